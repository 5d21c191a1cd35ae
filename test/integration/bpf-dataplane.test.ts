import { describe, it, expect, afterEach, beforeAll } from 'vitest';
import { Lab, ping, sh, NODE_IPS, reconcileAllNodes, teardownNodes } from '../helpers/kernel-lab.js';
import { mountBpffs } from '../helpers/bpffs.js';
import { createBpfDataplane, probeBpf, PinnedMaps, statPackets, type Verdict } from '../../src/dataplane/bpf/index.js';
import type { BpfInspectData } from '../../src/dataplane/bpf/inspect.js';
import type { Dataplane } from '../../src/dataplane/dataplane.js';
import { names } from '../../src/dataplane/names.js';
import { run } from '../../src/util/exec.js';
import { createKernelDataplane } from '../../src/dataplane/kernel/index.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const A = { key: 'tenant-a/net', vni: 100, cidr: '10.10.0.0/24', gateway: '10.10.0.1', natOutgoing: true };
const mac = (n: number) => `52:54:00:00:00:${n.toString(16).padStart(2, '0')}`;
const VMS = [
  { name: 'a1', net: A.key, node: 'n1', ip: '10.10.0.11', mac: mac(0x11) },
  { name: 'a2', net: A.key, node: 'n2', ip: '10.10.0.12', mac: mac(0x12) },
  { name: 'a3', net: A.key, node: 'n1', ip: '10.10.0.13', mac: mac(0x13) },
];

let lab: Lab | undefined;
const bpffs = new Map<string, string>();
const planes = new Map<string, Dataplane>();

async function dp(node: string): Promise<Dataplane> {
  if (!bpffs.has(node)) bpffs.set(node, await mountBpffs());
  if (!planes.has(node)) planes.set(node, createBpfDataplane({ node: lab!.nodeName(node), netns: lab!.nodeNs(node), bpffs: bpffs.get(node), log: lab!.log }));
  return planes.get(node)!;
}

const reconcileAll = (): Promise<number> => reconcileAllNodes(lab!, dp);

function counter(node: string, verdict: Verdict, vni = A.vni): number {
  const maps = PinnedMaps.open(names.pinDir(bpffs.get(node)!));
  try {
    return statPackets(maps.readStats(), vni, verdict);
  } finally {
    maps.close();
  }
}

/** Captures on a node's uplink while `action` runs; returns the number of packets matching `filter`. */
async function captured(netns: string, filter: string, action: () => Promise<unknown>): Promise<number> {
  const cap = run(['timeout', '5', 'tcpdump', '-i', 'vxmu0', '-n', '-l', filter], { netns, allowFailure: true, timeoutMs: 10_000 });
  await new Promise((r) => setTimeout(r, 1000));
  await action();
  const r = await cap;
  const m = /(\d+) packets? captured/.exec(r.stderr);
  if (!m) throw new Error(`tcpdump said: ${r.stderr}`);
  return Number(m[1]);
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('integration tests need root (CAP_NET_ADMIN) to create namespaces and mount bpffs');
});

afterEach(async () => {
  await teardownNodes(lab, planes, bpffs);
  lab = undefined;
});

describe('bpf dataplane', () => {
  it('connects VMs across nodes and on one node, answers ARP locally, drops rogue VTEPs and spoofed VMs', async () => {
    lab = new Lab();
    await lab.build([A], VMS);
    expect(await probeBpf()).toEqual({ ok: true });
    expect(await reconcileAll()).toBeGreaterThan(0);

    // Real traffic: cross-node, same-node, the distributed gateway.
    expect(await ping(lab.vmNs('a1'), '10.10.0.12')).toBe(true);
    expect(await ping(lab.vmNs('a1'), '10.10.0.13')).toBe(true);
    expect(await ping(lab.vmNs('a2'), '10.10.0.1')).toBe(true);
    const tunnelled = counter('n1', 'forwarded-tunnel');
    expect(tunnelled).toBeGreaterThan(0);

    // ARP for a remote VM: answered on the node, not one ARP frame inside VxLAN on the underlay.
    const answered = counter('n1', 'arp-answered');
    await sh(lab.vmNs('a1'), ['ip', 'neigh', 'flush', 'all']);
    const arpOnWire = await captured(lab.nodeNs('n1'), 'udp port 4789 and udp[28:2] = 0x0806', async () => {
      expect((await sh(lab!.vmNs('a1'), ['arping', '-c', '2', '-w', '3', '-I', 'eth0', '10.10.0.12'])).exitCode).toBe(0);
    });
    expect(arpOnWire).toBe(0);
    expect(counter('n1', 'arp-answered')).toBeGreaterThanOrEqual(answered + 2);

    // ARP for an address nobody has: head-end replicated, one VxLAN copy per peer VTEP holding the VNI
    // (n2 runs a2; n3, a member without a VM of VNI 100, gets none).
    const flooded = counter('n1', 'flooded');
    const copies = await captured(lab.nodeNs('n1'), 'udp port 4789 and udp[28:2] = 0x0806', async () => {
      await sh(lab!.vmNs('a1'), ['arping', '-c', '1', '-w', '1', '-I', 'eth0', '10.10.0.77']);
    });
    expect(copies).toBe(1); // only the one peer that holds VNI 100 (flooding where the VNI has a VM)
    expect(counter('n1', 'flooded')).toBeGreaterThan(flooded);

    // Ports are bound when plugged, not learned: a second pass has nothing left to do.
    expect(await reconcileAll()).toBe(0);
    const report = await (await dp('n1')).inspect();
    if (process.env.VXMESH_TEST_PRINT) console.log(report.text);
    expect(report.text).toContain(`bpftool map dump pinned ${names.pinDir(bpffs.get('n1')!)}/vxm_endpoints`);
    expect(report.text).toMatch(/52:54:00:00:00:12\s+10\.10\.0\.12\s+remote vtep 198\.18\.0\.12/);
    const data = report.data as BpfInspectData;
    expect(data.endpoints).toEqual([
      { vni: 100, mac: mac(0x11), ip: '10.10.0.11', localIfindex: expect.any(Number), localPort: lab.port('a1') },
      { vni: 100, mac: mac(0x12), ip: '10.10.0.12', remoteVtep: NODE_IPS.n2 },
      { vni: 100, mac: mac(0x13), ip: '10.10.0.13', localIfindex: expect.any(Number), localPort: lab.port('a3') },
    ]);
    expect(data.arp.map((a) => `${a.ip}=${a.mac}`)).toEqual(['10.10.0.1=02:76:6d:00:00:64', '10.10.0.11=' + mac(0x11), '10.10.0.12=' + mac(0x12), '10.10.0.13=' + mac(0x13)]);
    expect(data.vteps.map((v) => v.ip)).toEqual([NODE_IPS.n1, NODE_IPS.n2, NODE_IPS.n3]);
    expect(data.ports.map((p) => p.name).sort()).toEqual([lab.port('a1'), lab.port('a3'), names.gatewayPort(100)].sort());
    // The fast paths are used once ports are known.
    expect(await ping(lab.vmNs('a1'), '10.10.0.13')).toBe(true);
    expect(counter('n1', 'forwarded-local')).toBeGreaterThan(0);

    // A rogue VTEP (not a member) sends a well-formed VxLAN frame to n1: dropped and counted.
    const rogue = await addRogue(lab);
    const n1Mac = JSON.parse((await sh(lab.nodeNs('n1'), ['ip', '-j', 'link', 'show', 'vxmu0'])).stdout)[0].address as string;
    const dropped = counter('n1', 'dropped-unknown-vtep');
    const scapy = [
      'from scapy.all import *',
      `p = Ether(dst="${n1Mac}")/IP(src="198.18.0.99", dst="${NODE_IPS.n1}")/UDP(sport=40000, dport=4789)/VXLAN(vni=100, flags=0x08)`,
      `p = p/Ether(src="${mac(0x12)}", dst="${mac(0x11)}")/IP(src="10.10.0.12", dst="10.10.0.11")/ICMP()`,
      'sendp(p, iface="vxmu0", count=3, verbose=False)',
    ].join('\n');
    const sent = await run(['/usr/bin/python3', '-c', scapy], { netns: rogue, allowFailure: true });
    expect(sent.exitCode, sent.stderr).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(counter('n1', 'dropped-unknown-vtep')).toBe(dropped + 3);

    // A VM claiming an address that is not its own: dropped and counted.
    const spoofed = counter('n1', 'dropped-spoof');
    await sh(lab.vmNs('a1'), ['ip', 'addr', 'add', '10.10.0.99/24', 'dev', 'eth0']);
    expect(await ping(lab.vmNs('a1'), '10.10.0.12', 1)).toBe(true); // its real address still works
    const r = await sh(lab.vmNs('a1'), ['ping', '-c', '2', '-W', '1', '-I', '10.10.0.99', '10.10.0.12']);
    expect(r.exitCode).not.toBe(0);
    expect(counter('n1', 'dropped-spoof')).toBeGreaterThan(spoofed);
  });

  it('survives an agent restart without reloading or re-attaching, and cleanup removes everything it added', async () => {
    lab = new Lab();
    await lab.build([A], VMS.slice(0, 2));
    await reconcileAll();
    // A new dataplane object on the same bpffs = a restarted agent: nothing to change.
    planes.clear();
    expect(await reconcileAll()).toBe(0);
    expect(await ping(lab.vmNs('a1'), '10.10.0.12')).toBe(true);
    const p = await dp('n1');
    await p.cleanup();
    const links = JSON.parse((await sh(lab.nodeNs('n1'), ['ip', '-j', 'link', 'show'])).stdout) as Array<{ ifname: string }>;
    expect(links.map((l) => l.ifname).filter((n) => /^vx[blegoe]\d+$/.test(n))).toEqual([]);
    const qd = await sh(lab.nodeNs('n1'), ['tc', 'qdisc', 'show', 'dev', lab.port('a1')]);
    expect(qd.stdout).not.toContain('clsact');
    expect((await run(['ls', names.pinDir(bpffs.get('n1')!)], { allowFailure: true })).exitCode).not.toBe(0);
  });
});

/** Reconciles node `n` from a child process living inside the node netns (the agent's own path). */
describe('bpf dataplane, agent path and mode switch', () => {
  it('works when the reconciling process itself runs inside the node namespace (no netns option)', async () => {
    lab = new Lab();
    await lab.build([A], VMS.slice(0, 2));
    for (const n of lab.nodes) expect((await agentReconcile(lab, n)).errors).toEqual([]);
    expect(await ping(lab.vmNs('a1'), '10.10.0.12')).toBe(true);
    const filters = await sh(lab.nodeNs('n1'), ['tc', 'filter', 'show', 'dev', 'vxe0', 'ingress']);
    expect(filters.stdout).toContain('vxm_from_tunnel');
    expect(counter('n1', 'forwarded-tunnel')).toBeGreaterThan(0);
    // The in-process path (netns option) sees the same state: nothing to change.
    expect(await reconcileAll()).toBe(0);
  });

  it('takes over a node running kernel mode: vxl devices go, vxe0 comes up, traffic keeps flowing', async () => {
    lab = new Lab();
    await lab.build([A], VMS.slice(0, 2));
    for (const n of lab.nodes) {
      const r = await createKernelDataplane({ node: lab.nodeName(n), netns: lab.nodeNs(n), log: lab.log }).reconcile(lab.intent(n));
      expect(r.errors).toEqual([]);
    }
    expect(await ping(lab.vmNs('a1'), '10.10.0.12')).toBe(true);
    expect(await reconcileAll()).toBeGreaterThan(0);
    const links = JSON.parse((await sh(lab.nodeNs('n1'), ['ip', '-j', 'link', 'show'])).stdout) as Array<{ ifname: string }>;
    expect(links.map((l) => l.ifname).filter((x) => /^vx[le]\d+$/.test(x))).toEqual(['vxe0']);
    expect(await ping(lab.vmNs('a1'), '10.10.0.12')).toBe(true);
    expect(await ping(lab.vmNs('a2'), '10.10.0.1')).toBe(true);
  });
});

async function agentReconcile(l: Lab, n: string): Promise<{ changes: number; errors: unknown[] }> {
  if (!bpffs.has(n)) bpffs.set(n, await mountBpffs());
  const file = path.join(os.tmpdir(), `vxm-t${l.id}-${n}-intent.json`);
  fs.writeFileSync(file, JSON.stringify(l.intent(n)));
  try {
    const r = await run(['nsenter', `--net=/run/netns/${l.nodeNs(n)}`, 'node_modules/.bin/vite-node', 'test/helpers/bpf-agent-reconcile.ts', file, bpffs.get(n)!, l.nodeName(n)], { timeoutMs: 60_000 });
    return JSON.parse(r.stdout.trim().split('\n').pop()!);
  } finally {
    fs.rmSync(file, { force: true });
  }
}

async function addRogue(l: Lab): Promise<string> {
  const { addHost } = await import('../../src/lab/topology.js');
  return addHost(l.prefix, 'rg', '198.18.0.99/24');
}
