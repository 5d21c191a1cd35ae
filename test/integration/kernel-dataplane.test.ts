import { describe, it, expect, afterEach, beforeAll } from 'vitest';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { moveVmPort } from '../../src/lab/topology.js';
import { Lab, ping, startServer, ask, sh, EXT_IP, reconcileAllNodes } from '../helpers/kernel-lab.js';
import { createKernelDataplane, probeKernel } from '../../src/dataplane/kernel/index.js';
import type { Dataplane } from '../../src/dataplane/dataplane.js';

const A = { key: 'tenant-a/net', vni: 100, cidr: '10.10.0.0/24', gateway: '10.10.0.1', natOutgoing: true };
const B = { key: 'tenant-b/net', vni: 200, cidr: '10.10.0.0/24', gateway: '10.10.0.1', natOutgoing: false };
const mac = (n: number) => `52:54:00:00:00:${n.toString(16).padStart(2, '0')}`;

let lab: Lab | undefined;
const planes = new Map<string, Dataplane>();

function dp(node: string): Dataplane {
  if (!planes.has(node)) planes.set(node, createKernelDataplane({ node: lab!.nodeName(node), netns: lab!.nodeNs(node), log: lab!.log }));
  return planes.get(node)!;
}

const reconcileAll = (): Promise<number> => reconcileAllNodes(lab!, dp);

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('integration tests need root (CAP_NET_ADMIN) to create namespaces');
});

afterEach(async () => {
  planes.clear();
  await lab?.destroy();
  lab = undefined;
});

describe('kernel dataplane', () => {
  it('connects VMs across nodes and on one node, carries TCP, and converges to zero changes', async () => {
    lab = new Lab();
    await lab.build([A], [
      { name: 'a1', net: A.key, node: 'n1', ip: '10.10.0.11', mac: mac(0x11) },
      { name: 'a2', net: A.key, node: 'n2', ip: '10.10.0.12', mac: mac(0x12) },
      { name: 'a3', net: A.key, node: 'n1', ip: '10.10.0.13', mac: mac(0x13) },
    ]);
    expect((await probeKernel({ netns: lab.nodeNs('n1') })).ok).toBe(true);
    expect(await reconcileAll()).toBeGreaterThan(0);
    expect(await ping(lab.vmNs('a1'), '10.10.0.12')).toBe(true);
    expect(await ping(lab.vmNs('a1'), '10.10.0.13')).toBe(true);
    expect(await ping(lab.vmNs('a2'), '10.10.0.1')).toBe(true);
    await startServer(lab.vmNs('a2'), 7000, 'vm-a2');
    expect(await ask(lab.vmNs('a1'), '10.10.0.12', 7000)).toBe('vm-a2');
    expect(await reconcileAll()).toBe(0);
    const text = (await dp('n1').inspect()).text;
    expect(text).toContain('fdb 52:54:00:00:00:12 -> 198.18.0.12');
  });
});

// Isolation with natOutgoing, NAT drift and per-network errors: test/integration/dataplane-modes.test.ts (both modes).
describe('kernel dataplane ARP and the VTEP filter', () => {
  it('answers ARP for remote VMs on the node: no ARP crosses the underlay', async () => {
    lab = new Lab();
    await lab.build([A], [
      { name: 'a1', net: A.key, node: 'n1', ip: '10.10.0.11', mac: mac(0x11) },
      { name: 'a2', net: A.key, node: 'n2', ip: '10.10.0.12', mac: mac(0x12) },
    ]);
    await reconcileAll();
    const pcap = `/tmp/${lab.prefix}-n1.pcap`;
    const capture = sh(lab.nodeNs('n1'), ['timeout', '4', 'tcpdump', '-Z', 'root', '-i', 'vxmu0', '-n', '-U', '-w', pcap, 'udp port 4789'], 8000);
    await new Promise((r) => setTimeout(r, 700));
    await sh(lab.vmNs('a1'), ['ip', 'neigh', 'flush', 'all']);
    await sh(lab.vmNs('a2'), ['ip', 'neigh', 'flush', 'all']);
    expect(await ping(lab.vmNs('a1'), '10.10.0.12')).toBe(true);
    expect(await ping(lab.vmNs('a1'), '10.10.0.1')).toBe(true);
    await capture;
    const count = async (filter: string) => (await sh('', ['tcpdump', '-n', '-r', pcap, filter])).stdout.split('\n').filter(Boolean).length;
    const innerIp = await count('ether[62:2] = 0x0800');
    const innerArp = await count('ether[62:2] = 0x0806');
    await sh('', ['rm', '-f', pcap]);
    expect(innerIp).toBeGreaterThan(0); // the capture saw the overlay traffic…
    expect(innerArp).toBe(0); // …and no encapsulated ARP
    const neigh = await sh(lab.vmNs('a1'), ['ip', 'neigh', 'show', '10.10.0.12']);
    expect(neigh.stdout).toContain(mac(0x12));
  });

  it('drops VxLAN from an address that is not a member VTEP', async () => {
    lab = new Lab();
    await lab.build([A], [{ name: 'a1', net: A.key, node: 'n1', ip: '10.10.0.11', mac: mac(0x11) }]);
    await reconcileAll();
    const script = [
      'from scapy.all import *',
      `p = IP(src="${EXT_IP}", dst="198.18.0.11")/UDP(sport=40000, dport=4789)/VXLAN(vni=100, flags=0x08)/Ether(src="52:54:00:00:00:99", dst="${mac(0x11)}")/IP(src="10.10.0.99", dst="10.10.0.11")/ICMP()`,
      'send(p, count=3, inter=0.1, verbose=False)',
    ].join('\n');
    const crafted = async () => {
      const cap = sh(lab!.vmNs('a1'), ['timeout', '3', 'tcpdump', '-i', 'eth0', '-n', '-l', 'icmp and src host 10.10.0.99'], 6000);
      await new Promise((r) => setTimeout(r, 700));
      const s = await sh(lab!.extNs, ['/usr/bin/python3', '-c', script], 20_000);
      expect(s.exitCode, s.stderr).toBe(0);
      return (await cap).stdout.split('\n').filter((l) => l.includes('10.10.0.99')).length;
    };
    expect(await crafted()).toBe(0);
    // Control: once the external host is a member VTEP, the very same frames get through.
    lab.extraPeers = [EXT_IP];
    const r = await dp('n1').reconcile(lab.intent('n1'));
    expect(r.errors).toEqual([]);
    // one element in the VTEP filter's set and one in each gateway guard's set (node, router), updated in
    // place; no flood entry: the new peer holds no VM of VNI 100
    expect(r.changes).toBe(3);
    expect(await crafted()).toBeGreaterThan(0);
  });
});

describe('kernel dataplane lifecycle', () => {
  it('follows a VM that migrates to another node: same IP, traffic resumes, old entries go', async () => {
    lab = new Lab();
    await lab.build([A], [
      { name: 'a1', net: A.key, node: 'n1', ip: '10.10.0.11', mac: mac(0x11) },
      { name: 'a2', net: A.key, node: 'n2', ip: '10.10.0.12', mac: mac(0x12) },
    ]);
    await reconcileAll();
    expect(await ping(lab.vmNs('a1'), '10.10.0.12')).toBe(true);
    await moveVmPort(lab.port('a2'), lab.nodeNs('n2'), lab.nodeNs('n3'), 'vxb100');
    lab.vms.find((v) => v.name === 'a2')!.node = 'n3';
    expect(await reconcileAll()).toBeGreaterThan(0);
    expect(await ping(lab.vmNs('a1'), '10.10.0.12', 3)).toBe(true);
    expect(await ping(lab.vmNs('a2'), '10.10.0.1')).toBe(true);
    const n1fdb = (await sh(lab.nodeNs('n1'), ['bridge', 'fdb', 'show', 'dev', 'vxl100'])).stdout;
    expect(n1fdb).toContain(`${mac(0x12)} dst 198.18.0.13`);
    const n2fdb = (await sh(lab.nodeNs('n2'), ['bridge', 'fdb', 'show', 'dev', 'vxl100'])).stdout;
    expect(n2fdb).toContain(`${mac(0x12)} dst 198.18.0.13`);
    // On its new node the VM is local: no tunnel entry and no static pin to the vxlan port is left.
    const n3fdb = (await sh(lab.nodeNs('n3'), ['bridge', 'fdb', 'show', 'dev', 'vxl100'])).stdout;
    expect(n3fdb).not.toContain(mac(0x12));
    expect(await reconcileAll()).toBe(0);
  });

  it('repairs drift: deleted FDB entries and neighbours come back, a vxlan device with a wrong port is recreated', async () => {
    lab = new Lab();
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } });
    lab.log = pino({ level: 'info' }, sink);
    await lab.build([A], [
      { name: 'a1', net: A.key, node: 'n1', ip: '10.10.0.11', mac: mac(0x11) },
      { name: 'a2', net: A.key, node: 'n2', ip: '10.10.0.12', mac: mac(0x12) },
    ]);
    await reconcileAll();
    const n1 = lab.nodeNs('n1');
    await sh(n1, ['bridge', 'fdb', 'del', mac(0x12), 'dev', 'vxl100', 'self']);
    await sh(n1, ['bridge', 'fdb', 'del', '00:00:00:00:00:00', 'dev', 'vxl100', 'dst', '198.18.0.12', 'self']);
    await sh(n1, ['ip', 'neigh', 'del', '10.10.0.12', 'dev', 'vxl100']);
    const r1 = await dp('n1').reconcile(lab.intent('n1'));
    expect(r1.changes).toBe(3);
    expect((await sh(n1, ['ip', 'neigh', 'show', 'dev', 'vxl100'])).stdout).toContain(`10.10.0.12 lladdr ${mac(0x12)} PERMANENT`);

    const n2 = lab.nodeNs('n2');
    await sh(n2, ['ip', 'link', 'del', 'vxl100']);
    await sh(n2, ['ip', 'link', 'add', 'vxl100', 'type', 'vxlan', 'id', '100', 'dstport', '4790', 'local', '198.18.0.12', 'dev', 'vxmu0', 'nolearning', 'proxy']);
    expect(await ping(lab.vmNs('a1'), '10.10.0.12', 1)).toBe(false);
    const r2 = await dp('n2').reconcile(lab.intent('n2'));
    expect(r2.errors).toEqual([]);
    expect(lines.some((l) => l.includes('vxlan device recreated') && l.includes('port 4790 -> 4789'))).toBe(true);
    expect(await ping(lab.vmNs('a1'), '10.10.0.12')).toBe(true);

    expect(await reconcileAll()).toBe(0);
  });

  it('retire removes only vxlan devices and the VTEP filter (anti-spoofing stays); cleanup leaves nothing owned behind', async () => {
    lab = new Lab();
    await lab.build([A, B], [
      { name: 'a1', net: A.key, node: 'n1', ip: '10.10.0.11', mac: mac(0x11) },
      { name: 'b1', net: B.key, node: 'n1', ip: '10.10.0.11', mac: mac(0x21) },
    ]);
    await reconcileAll();
    const n1 = lab.nodeNs('n1');
    await dp('n1').retire();
    const links = (await sh(n1, ['ip', '-o', 'link', 'show'])).stdout;
    expect(links).not.toMatch(/vxl\d+/);
    expect(links).toMatch(/vxb100/);
    // The gateway NAT, the DHCP filter and the VM ports' anti-spoofing are shared by both modes: they stay.
    expect((await sh(n1, ['nft', 'list', 'tables'])).stdout.trim().split('\n').sort()).toEqual(['table bridge vxmesh_antispoof', 'table bridge vxmesh_dhcp', 'table inet vxmesh']);
    expect(await ping(lab.vmNs('a1'), '10.10.0.1')).toBe(true); // gateway survives a mode switch

    for (const n of lab.nodes) await dp(n).cleanup();
    for (const n of lab.nodes) {
      const ns = lab.nodeNs(n);
      expect((await sh(ns, ['ip', '-o', 'link', 'show'])).stdout).not.toMatch(/: vx[blego]\d+[@:]/);
      expect((await sh(ns, ['nft', 'list', 'tables'])).stdout.trim()).toBe('');
    }
    const all = (await sh('', ['ip', 'netns', 'list'])).stdout;
    expect(all).not.toContain(`vxmr-t${lab.id}`);
    // The VM port outlives the uninstall (only unplugged).
    expect((await sh(n1, ['ip', 'link', 'show', lab.port('a1')])).exitCode).toBe(0);
  });
});
