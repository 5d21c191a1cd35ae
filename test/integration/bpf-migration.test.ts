/**
 * Live migration in bpf mode, the way KubeVirt does it: the target node is named first (migrationState),
 * the target's port exists before the guest resumes there (the new virt-launcher), the guest then resumes
 * on the target and announces itself, and only afterwards the VMI reports completion. No reconcile runs
 * between the announcement and the checks: whatever forwards the guest's traffic then is the data plane.
 */
import { describe, it, expect, afterEach, beforeAll } from 'vitest';
import { Lab, ping, sh, NODE_IPS } from '../helpers/kernel-lab.js';
import { mountBpffs, unmountBpffs } from '../helpers/bpffs.js';
import { parsePing } from '../helpers/lab.js';
import { createBpfDataplane, PinnedMaps, statPackets, type Verdict } from '../../src/dataplane/bpf/index.js';
import type { BpfInspectData } from '../../src/dataplane/bpf/inspect.js';
import type { Dataplane } from '../../src/dataplane/dataplane.js';
import type { NodeIntent } from '../../src/intent/types.js';
import { names } from '../../src/dataplane/names.js';
import { addHost, plugPort } from '../../src/lab/topology.js';
import { run } from '../../src/util/exec.js';

const A = { key: 'tenant-a/net', vni: 100, cidr: '10.10.0.0/24', gateway: '10.10.0.1', natOutgoing: true };
const mac = (n: number) => `52:54:00:00:00:${n.toString(16).padStart(2, '0')}`;
// a2 migrates from n2 to n3; a1 (n1) and a3 (n3, the target's own VM) talk to it throughout.
const VMS = [
  { name: 'a1', net: A.key, node: 'n1', ip: '10.10.0.11', mac: mac(0x11) },
  { name: 'a2', net: A.key, node: 'n2', ip: '10.10.0.12', mac: mac(0x12) },
  { name: 'a3', net: A.key, node: 'n3', ip: '10.10.0.13', mac: mac(0x13) },
];
const GUEST = VMS[1]!;
const TARGET_PORT = 'vxmpa2t';
const ROGUE_VTEP = '198.18.0.99';

/** One bpf dataplane per lab node, each on its own bpffs. */
class BpfNodes {
  private readonly bpffs = new Map<string, string>();
  private readonly planes = new Map<string, Dataplane>();

  constructor(private readonly lab: Lab) {}

  private async plane(node: string): Promise<Dataplane> {
    if (!this.bpffs.has(node)) this.bpffs.set(node, await mountBpffs());
    if (!this.planes.has(node)) {
      this.planes.set(node, createBpfDataplane({ node: this.lab.nodeName(node), netns: this.lab.nodeNs(node), bpffs: this.bpffs.get(node), log: this.lab.log }));
    }
    return this.planes.get(node)!;
  }

  /** Reconciles every node with `intentOf(node)`; returns the number of changes. */
  async reconcile(intentOf: (node: string) => NodeIntent): Promise<number> {
    let changes = 0;
    for (const n of this.lab.nodes) {
      const r = await (await this.plane(n)).reconcile(intentOf(n));
      expect(r.errors, `errors on ${n}`).toEqual([]);
      changes += r.changes;
    }
    return changes;
  }

  counter(node: string, verdict: Verdict): number {
    const maps = PinnedMaps.open(names.pinDir(this.bpffs.get(node)!));
    try {
      return statPackets(maps.readStats(), A.vni, verdict);
    } finally {
      maps.close();
    }
  }

  /** The guest's vxm_endpoints entry on `node`, as `vxmesh inspect` shows it. */
  async guestEntry(node: string) {
    const data = (await (await this.plane(node)).inspect()).data as BpfInspectData;
    const e = data.endpoints.find((x) => x.mac === GUEST.mac)!;
    return { where: e.remoteVtep ? `remote ${e.remoteVtep}` : `local ${e.localPort}`, migration: e.migration };
  }

  async close(): Promise<void> {
    for (const p of this.planes.values()) await p.close();
    for (const dir of this.bpffs.values()) await unmountBpffs(dir);
  }
}

/** The lab's intent for `node` while the guest migrates to n3. */
const migrating = (lab: Lab, node: string): NodeIntent => lab.migrating(node, GUEST.name, 'n3');

/** Sends one hand-made frame with scapy from `netns` (`frame` is a scapy expression; the script may define `inner`). */
async function scapySend(netns: string, iface: string, frame: string, inner = ''): Promise<void> {
  const script = ['from scapy.all import *', inner, `sendp(${frame}, iface="${iface}", verbose=False)`].join('\n');
  const r = await run(['/usr/bin/python3', '-c', script], { netns, allowFailure: true });
  expect(r.exitCode, r.stderr).toBe(0);
  await new Promise((res) => setTimeout(res, 300));
}

let lab: Lab | undefined;
let nodes: BpfNodes | undefined;

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('integration tests need root (CAP_NET_ADMIN) to create namespaces and mount bpffs');
});

afterEach(async () => {
  await nodes?.close();
  nodes = undefined;
  await lab?.destroy();
  lab = undefined;
});

describe('bpf dataplane, live migration', () => {
  it('forwards the guest from the target as soon as it resumes there, before any agent sees completion', async () => {
    lab = new Lab();
    lab.extraPeers = [ROGUE_VTEP]; // a member VTEP that is not the migration target
    await lab.build([A], VMS);
    const l = lab;
    nodes = new BpfNodes(l);
    await nodes.reconcile((n) => l.intent(n));
    for (const [from, to] of [['a1', GUEST.ip], ['a3', GUEST.ip], ['a2', '10.10.0.13']] as const) expect(await ping(l.vmNs(from), to)).toBe(true);

    // The target's virt-launcher: the guest's NIC on n3, not running yet (down), same MAC and address,
    // its port bound to the guest's NIC when plugged.
    await sh(l.vmNs('a2'), ['ip', 'link', 'add', 'eth1', 'address', GUEST.mac, 'mtu', '1450', 'type', 'veth', 'peer', 'name', TARGET_PORT, 'mtu', '1450', 'netns', l.nodeNs('n3')]);
    await plugPort(l.nodeNs('n3'), TARGET_PORT, names.bridge(A.vni), l.binding(GUEST.name));
    await sh(l.vmNs('a2'), ['ip', 'addr', 'add', `${GUEST.ip}/24`, 'dev', 'eth1']);

    // KubeVirt names the target: every agent reconciles the migration state, n3 programs the new port.
    await nodes.reconcile((n) => migrating(l, n));
    expect(await nodes.guestEntry('n3')).toEqual({ where: `remote ${NODE_IPS.n2}`, migration: 'arriving' });
    expect(await nodes.guestEntry('n1')).toEqual({ where: `remote ${NODE_IPS.n2}`, migration: `moving to ${NODE_IPS.n3}` });
    expect(await ping(l.vmNs('a1'), GUEST.ip)).toBe(true); // still served by the source

    // Neither a VM of the target node nor a member VTEP other than the target can claim the guest.
    const spoofed = nodes.counter('n3', 'dropped-spoof');
    await scapySend(l.vmNs('a3'), 'eth0', `Ether(src="${GUEST.mac}", dst="ff:ff:ff:ff:ff:ff")/ARP(op=1, hwsrc="${GUEST.mac}", psrc="${GUEST.ip}", pdst="${GUEST.ip}")`);
    expect(nodes.counter('n3', 'dropped-spoof')).toBe(spoofed + 1);
    expect(await nodes.guestEntry('n3')).toEqual({ where: `remote ${NODE_IPS.n2}`, migration: 'arriving' });
    const rogue = await addHost(l.prefix, 'rg', `${ROGUE_VTEP}/24`);
    const n1Mac = JSON.parse((await sh(l.nodeNs('n1'), ['ip', '-j', 'link', 'show', 'vxmu0'])).stdout)[0].address as string;
    await scapySend(rogue, 'vxmu0', 'outer/inner',
      [`outer = Ether(dst="${n1Mac}")/IP(src="${ROGUE_VTEP}", dst="${NODE_IPS.n1}")/UDP(sport=40000, dport=4789)/VXLAN(vni=${A.vni}, flags=0x08)`,
        `inner = Ether(src="${GUEST.mac}", dst="${mac(0x11)}")/IP(src="${GUEST.ip}", dst="10.10.0.11")/ICMP()`].join('\n'));
    expect(await nodes.guestEntry('n1')).toEqual({ where: `remote ${NODE_IPS.n2}`, migration: `moving to ${NODE_IPS.n3}` });

    // Switchover under a 10 ms ping flood from a remote VM and from a VM of the target node: the guest
    // stops on the source, resumes on the target and announces itself (QEMU / the guest's gratuitous ARP).
    const spoofBefore = nodes.counter('n3', 'dropped-spoof');
    const fromRemote = sh(l.vmNs('a1'), ['ping', '-i', '0.01', '-c', '300', '-q', GUEST.ip], 30_000);
    const fromTarget = sh(l.vmNs('a3'), ['ping', '-i', '0.01', '-c', '300', '-q', GUEST.ip], 30_000);
    await new Promise((res) => setTimeout(res, 1000));
    const sw = await sh(l.vmNs('a2'), ['sh', '-c', `ip link set eth0 down && ip link set eth1 up && arping -U -c 1 -I eth1 ${GUEST.ip}`]);
    expect(sw.exitCode, sw.stderr).toBe(0);
    const lost = { remote: parsePing((await fromRemote).stdout).lost, target: parsePing((await fromTarget).stdout).lost };
    if (process.env.VXMESH_TEST_PRINT) console.log(`switchover: ${lost.remote} (from n1) and ${lost.target} (from n3) of 300 pings lost`);
    // README: at most 1 of 300 lost (only a ping sent during the switchover commands themselves; measured 0
    // in 6 of 6 streams on the shared test machine); without the data plane learning the move, every ping
    // after it is (about 200 each, until an agent pass).
    expect(lost.remote).toBeLessThanOrEqual(1);
    expect(lost.target).toBeLessThanOrEqual(1);
    expect(nodes.counter('n3', 'dropped-spoof')).toBe(spoofBefore);

    // The data plane learned the move everywhere: local on n3's new port, behind n3 on n1 and on the source.
    expect(await nodes.guestEntry('n3')).toEqual({ where: `local ${TARGET_PORT}`, migration: 'arriving' });
    expect(await nodes.guestEntry('n1')).toEqual({ where: `remote ${NODE_IPS.n3}`, migration: `moving to ${NODE_IPS.n3}` });
    expect(await nodes.guestEntry('n2')).toEqual({ where: `remote ${NODE_IPS.n3}`, migration: `moving to ${NODE_IPS.n3}` });

    // An agent pass before KubeVirt reports completion keeps what the data plane learned.
    await nodes.reconcile((n) => migrating(l, n));
    expect(await nodes.guestEntry('n3')).toEqual({ where: `local ${TARGET_PORT}`, migration: 'arriving' });
    expect(await nodes.guestEntry('n1')).toEqual({ where: `remote ${NODE_IPS.n3}`, migration: `moving to ${NODE_IPS.n3}` });
    expect(await ping(l.vmNs('a1'), GUEST.ip)).toBe(true);

    // Completion: plain entries, the flags gone, and nothing left to change.
    l.vms = l.vms.map((v) => (v.name === 'a2' ? { ...v, node: 'n3' } : v));
    expect(await nodes.reconcile((n) => l.intent(n))).toBeGreaterThan(0);
    expect(await nodes.guestEntry('n3')).toEqual({ where: `local ${TARGET_PORT}`, migration: undefined });
    expect(await nodes.guestEntry('n1')).toEqual({ where: `remote ${NODE_IPS.n3}`, migration: undefined });
    expect(await nodes.reconcile((n) => l.intent(n))).toBe(0);
    expect(await ping(l.vmNs('a1'), GUEST.ip)).toBe(true);
    expect(await ping(l.vmNs('a3'), GUEST.ip)).toBe(true);
    expect(nodes.counter('n3', 'dropped-spoof')).toBe(spoofBefore);
  });
});
