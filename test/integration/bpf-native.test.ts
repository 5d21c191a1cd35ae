/**
 * Native encapsulation and decapsulation in TC (issue 14: encap.h, vxm_from_uplink.bpf.c), on real
 * namespaces with real traffic: which path a frame takes is read from the programs' own counters, the wire
 * format is proven by a receiver that decapsulates with the kernel's vxlan device, and the operator's own
 * TC program on the same uplink keeps running before, during and after vxmesh.
 * Lab: network A (VNI 100): a1 on n1, a2 on n2, a3 on n1.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Lab, ping, sh, NODE_IPS, type VmDef } from '../helpers/kernel-lab.js';
import { Planes } from '../helpers/vm-frames.js';
import { parsePing } from '../helpers/lab.js';
import { run } from '../../src/util/exec.js';

const A = { key: 'tenant-a/net', vni: 100, cidr: '10.10.0.0/24', gateway: '10.10.0.1', natOutgoing: true };
const mac = (n: number) => `52:54:00:00:00:${n.toString(16).padStart(2, '0')}`;
const vm = (n: number, node: string): VmDef => ({ name: `a${n}`, net: A.key, node, ip: `10.10.0.${10 + n}`, mac: mac(0x10 + n) });
const [A1, A2, A3] = [vm(1, 'n1'), vm(2, 'n2'), vm(3, 'n1')];
const OPERATOR_PROG = path.resolve('test/fixtures/operator_drop_udp9999.bpf.c');

/** vxmesh's filters (and anyone else's) on a node's uplink ingress, as `tc -j filter show` lists them. */
async function uplinkFilters(netns: string): Promise<Array<{ pref?: number; options?: { prog?: { name?: string } } }>> {
  const r = await sh(netns, ['tc', '-j', 'filter', 'show', 'dev', 'vxmu0', 'ingress']);
  return r.exitCode === 0 && r.stdout.trim() ? JSON.parse(r.stdout) : [];
}
/** Program names (the kernel keeps 15 characters) of the filters on a node's uplink ingress, in order. */
const progNames = async (netns: string) => (await uplinkFilters(netns)).flatMap((f) => (f.options?.prog?.name ? [f.options.prog.name] : []));

/** Whether a UDP datagram to `port` from n1's namespace reaches a listener on n2's underlay address. */
async function udpArrives(lab: Lab, port: number): Promise<boolean> {
  const rx = run(['timeout', '3', 'socat', '-u', `UDP-RECV:${port}`, 'STDOUT'], { netns: lab.nodeNs('n2'), allowFailure: true });
  await new Promise((r) => setTimeout(r, 300));
  for (let i = 0; i < 3; i++) await sh(lab.nodeNs('n1'), ['sh', '-c', `echo probe | socat -u STDIN UDP-SENDTO:${NODE_IPS.n2}:${port}`]);
  return (await rx).stdout.includes('probe');
}

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('integration tests need root (CAP_NET_ADMIN) to create namespaces and mount bpffs');
});

describe('bpf mode: tunnelled frames are encapsulated and decapsulated in TC', () => {
  let lab: Lab;
  let planes: Planes;
  const saved = process.env.VXMESH_NATIVE_ENCAP;

  beforeAll(async () => {
    lab = new Lab();
    await lab.build([A], [A1, A2, A3]);
    planes = new Planes(lab, 'bpf');
    await planes.reconcile();
  }, 120_000);

  afterAll(async () => {
    if (saved === undefined) delete process.env.VXMESH_NATIVE_ENCAP;
    else process.env.VXMESH_NATIVE_ENCAP = saved;
    await planes?.close();
    await lab?.destroy();
  });

  it('carries pings and a TCP stream across nodes on the native path both ways, and says so in its counters', async () => {
    expect(await ping(lab.vmNs('a1'), A2.ip)).toBe(true); // resolves the underlay neighbour (first frame: vxe0)
    const before = { en: planes.stat('n1', 'encap-native'), ef: planes.stat('n1', 'encap-fallback'), dn: planes.stat('n2', 'decap-native') };
    const r = await sh(lab.vmNs('a1'), ['ping', '-c', '50', '-i', '0.01', '-W', '1', A2.ip]);
    expect(parsePing(r.stdout).received).toBe(50);
    expect(planes.stat('n1', 'encap-native') - before.en).toBeGreaterThanOrEqual(50); // a1 -> a2 built on n1
    expect(planes.stat('n1', 'encap-fallback') - before.ef).toBe(0);
    expect(planes.stat('n2', 'decap-native') - before.dn).toBeGreaterThanOrEqual(50); // and taken apart on n2
    expect(planes.stat('n2', 'encap-native')).toBeGreaterThanOrEqual(50); // the replies, the other way
    // bulk TCP (GSO super-packets from the VM): encapsulated natively, each segment a valid VxLAN packet
    const server = run(['timeout', '10', 'iperf3', '-s', '-1'], { netns: lab.vmNs('a2'), allowFailure: true });
    await new Promise((res) => setTimeout(res, 500));
    const enBulk = planes.stat('n1', 'encap-native');
    const c = await sh(lab.vmNs('a1'), ['iperf3', '-c', A2.ip, '-t', '1', '-J'], 15_000);
    await server;
    expect(c.exitCode, c.stderr).toBe(0);
    expect(JSON.parse(c.stdout).end.sum_received.bytes).toBeGreaterThan(10_000_000);
    expect(planes.stat('n1', 'encap-native') - enBulk).toBeGreaterThan(100);
  });

  it('puts a standard VxLAN packet on the wire: a receiver decapsulating with the kernel\'s vxlan device (no uplink program) gets it', async () => {
    process.env.VXMESH_NATIVE_ENCAP = 'off';
    await (await planes.plane('n2')).reconcile(lab.intent('n2')); // n2: no vxmesh program on its uplink, vxe0 only
    delete process.env.VXMESH_NATIVE_ENCAP;
    expect(await progNames(lab.nodeNs('n2'))).not.toContain('vxm_from_uplink');
    expect(await progNames(lab.nodeNs('n1'))).toContain('vxm_from_uplink');
    const en = planes.stat('n1', 'encap-native');
    const local = planes.stat('n2', 'forwarded-local');
    const dn = planes.stat('n2', 'decap-native');
    const r = await sh(lab.vmNs('a1'), ['ping', '-c', '20', '-i', '0.01', '-W', '1', A2.ip]);
    expect(parsePing(r.stdout).received).toBe(20);
    expect(planes.stat('n1', 'encap-native') - en).toBeGreaterThanOrEqual(20);
    expect(planes.stat('n2', 'forwarded-local') - local).toBeGreaterThanOrEqual(20); // vxm_from_tunnel on vxe0 delivered them
    expect(planes.stat('n2', 'decap-native')).toBe(dn);
    // off on the sender too: every tunnelled frame through vxe0, counted as the fallback; traffic unchanged
    process.env.VXMESH_NATIVE_ENCAP = 'off';
    await (await planes.plane('n1')).reconcile(lab.intent('n1'));
    const ef = planes.stat('n1', 'encap-fallback');
    const en2 = planes.stat('n1', 'encap-native');
    expect(await ping(lab.vmNs('a1'), A2.ip, 5)).toBe(true);
    expect(planes.stat('n1', 'encap-fallback') - ef).toBeGreaterThanOrEqual(5);
    expect(planes.stat('n1', 'encap-native')).toBe(en2);
    delete process.env.VXMESH_NATIVE_ENCAP;
    await planes.reconcile();
    expect(await progNames(lab.nodeNs('n2'))).toContain('vxm_from_uplink');
  });

  it('leaves the operator\'s own TC program on the uplink running behind it, and cleanup removes only vxmesh\'s', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vxm-op-'));
    const obj = path.join(dir, 'op.o');
    const cc = await run(['clang', '-O2', '-g', '-target', 'bpf', `-I/usr/include/${os.arch() === 'x64' ? 'x86_64' : 'aarch64'}-linux-gnu`, '-c', OPERATOR_PROG, '-o', obj], { allowFailure: true });
    expect(cc.exitCode, cc.stderr).toBe(0);
    // positive control: the port is reachable before the operator's program goes in
    expect(await udpArrives(lab, 9999)).toBe(true);
    const add = await sh(lab.nodeNs('n2'), ['tc', 'filter', 'add', 'dev', 'vxmu0', 'ingress', 'prio', '10', 'bpf', 'da', 'obj', obj, 'sec', 'tc']);
    expect(add.exitCode, add.stderr).toBe(0);
    expect(await progNames(lab.nodeNs('n2'))).toEqual(['vxm_from_uplink', 'operator_drop_u']);
    // the operator's program still decides what vxmesh does not take (its own drop holds), and the overlay works
    expect(await udpArrives(lab, 9999)).toBe(false);
    expect(await udpArrives(lab, 9998)).toBe(true);
    expect(await ping(lab.vmNs('a1'), A2.ip)).toBe(true);
    // a pass keeps both; vxmesh's cleanup takes only its own
    await planes.reconcile();
    expect(await progNames(lab.nodeNs('n2'))).toEqual(['vxm_from_uplink', 'operator_drop_u']);
    await (await planes.plane('n2')).cleanup();
    expect(await progNames(lab.nodeNs('n2'))).toEqual(['operator_drop_u']);
    expect(await udpArrives(lab, 9999)).toBe(false);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
