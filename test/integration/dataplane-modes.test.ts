/**
 * What the README gives both dataplanes alike, run against each on real namespaces and traffic (the small
 * netns lab: three nodes, an external host): `natOutgoing: false` is an isolated network (its gateway
 * answers, nothing beyond it) next to a NATed one on the same CIDR; NAT drift (the node's table deleted,
 * the router's postrouting chain flushed) is repaired by the next pass; a network that cannot be rendered
 * fails alone while the others are programmed; and a restarted agent (a new dataplane on the same node)
 * reprograms nothing: zero changes, the same devices (ifindexes), nft rules (handles) and, in bpf mode,
 * the same programs and maps.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Lab, ping, startServer, ask, sh, EXT_IP, reconcileAllNodes, teardownNodes } from '../helpers/kernel-lab.js';
import { mountBpffs } from '../helpers/bpffs.js';
import { createKernelDataplane } from '../../src/dataplane/kernel/index.js';
import { createBpfDataplane } from '../../src/dataplane/bpf/index.js';
import type { Dataplane, DataplaneMode } from '../../src/dataplane/dataplane.js';
import { names } from '../../src/dataplane/names.js';
import { nodeDataplane } from '../helpers/node-dataplane.js';

const A = { key: 'tenant-a/net', vni: 100, cidr: '10.10.0.0/24', gateway: '10.10.0.1', natOutgoing: true };
const B = { key: 'tenant-b/net', vni: 200, cidr: '10.10.0.0/24', gateway: '10.10.0.1', natOutgoing: false };
const mac = (n: number) => `52:54:00:00:00:${n.toString(16).padStart(2, '0')}`;
const A1 = { name: 'a1', net: A.key, node: 'n1', ip: '10.10.0.11', mac: mac(0x11) };
const A2 = { name: 'a2', net: A.key, node: 'n2', ip: '10.10.0.12', mac: mac(0x12) };
const B1 = { name: 'b1', net: B.key, node: 'n1', ip: '10.10.0.11', mac: mac(0x21) };
const B2 = { name: 'b2', net: B.key, node: 'n2', ip: '10.10.0.12', mac: mac(0x22) };

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('integration tests need root (CAP_NET_ADMIN) to create namespaces and mount bpffs');
});

describe.each(['kernel', 'bpf'] as DataplaneMode[])('%s dataplane: what both modes promise', (mode) => {
  let lab: Lab | undefined;
  const bpffs = new Map<string, string>();
  const planes = new Map<string, Dataplane>();

  /** A dataplane for node `n`, as an agent process would create it (bpf: on that node's own bpffs). */
  async function fresh(n: string): Promise<Dataplane> {
    if (mode === 'kernel') return createKernelDataplane({ node: lab!.nodeName(n), netns: lab!.nodeNs(n), log: lab!.log });
    if (!bpffs.has(n)) bpffs.set(n, await mountBpffs());
    return createBpfDataplane({ node: lab!.nodeName(n), netns: lab!.nodeNs(n), bpffs: bpffs.get(n), log: lab!.log });
  }
  async function dp(n: string): Promise<Dataplane> {
    if (!planes.has(n)) planes.set(n, await fresh(n));
    return planes.get(n)!;
  }
  const reconcileAll = (): Promise<number> => reconcileAllNodes(lab!, dp);

  afterEach(async () => {
    await teardownNodes(lab, planes, bpffs);
    lab = undefined;
  });

  it('keeps two tenants with the same CIDR and IPs apart, and NATs egress only where natOutgoing is set', async () => {
    lab = new Lab();
    await lab.build([A, B], [A1, A2, B1, B2]);
    expect(await reconcileAll()).toBeGreaterThan(0);
    await startServer(lab.vmNs('a2'), 7000, 'vm-a2');
    await startServer(lab.vmNs('b2'), 7000, 'vm-b2');
    expect(await ask(lab.vmNs('a1'), '10.10.0.12', 7000)).toBe('vm-a2');
    expect(await ask(lab.vmNs('b1'), '10.10.0.12', 7000)).toBe('vm-b2');

    await startServer(lab.extNs, 7001, 'peer');
    // tenant-a (natOutgoing true) reaches the external host from each node's address …
    expect(await ask(lab.vmNs('a1'), EXT_IP, 7001)).toBe('198.18.0.11');
    expect(await ask(lab.vmNs('a2'), EXT_IP, 7001)).toBe('198.18.0.12');
    // … tenant-b (natOutgoing false) is isolated: its gateway answers, nothing leaves its router.
    expect(await ping(lab.vmNs('b1'), '10.10.0.1')).toBe(true);
    expect(await ping(lab.vmNs('b2'), '10.10.0.1')).toBe(true);
    expect(await ask(lab.vmNs('b1'), EXT_IP, 7001)).toBe('');
    expect(await ask(lab.vmNs('b2'), EXT_IP, 7001)).toBe('');
    expect(await ping(lab.vmNs('b1'), EXT_IP, 1)).toBe(false);
    expect(await ping(lab.vmNs('a1'), EXT_IP, 1)).toBe(true); // the same probe passes where NAT is on
  });

  it('repairs NAT drift: a deleted node table and a flushed router chain come back on the next pass, and egress works again', async () => {
    lab = new Lab();
    await lab.build([A], [A1, A2]);
    await reconcileAll();
    await startServer(lab.extNs, 7001, 'peer');
    expect(await ask(lab.vmNs('a1'), EXT_IP, 7001)).toBe('198.18.0.11'); // before the drift
    const n1 = lab.nodeNs('n1');
    expect((await sh(n1, ['nft', 'delete', 'table', 'inet', 'vxmesh'])).exitCode).toBe(0);
    expect((await sh(names.routerNetns(lab.nodeName('n1'), A.vni), ['nft', 'flush', 'chain', 'inet', 'vxmesh', 'postrouting'])).exitCode).toBe(0);
    expect(await ask(lab.vmNs('a1'), EXT_IP, 7001)).toBe(''); // the drift really broke egress
    const r = await (await dp('n1')).reconcile(lab.intent('n1'));
    expect(r.errors).toEqual([]);
    expect(r.changes).toBe(2); // the node's table and the router's table, one change each
    expect(await ask(lab.vmNs('a1'), EXT_IP, 7001)).toBe('198.18.0.11');
    expect(await reconcileAll()).toBe(0);
  });

  it('reports a network it cannot render and still programs the others', async () => {
    lab = new Lab();
    const bad = { key: 'tenant-c/bad', vni: 300, cidr: '10.30.0.0/24', gateway: '10.30.0.999', natOutgoing: true };
    await lab.build([A, bad], [A1, A2]);
    // A VM of the broken network on every node (in the intent only: its gateway cannot be a guest route),
    // so that every node plans its router.
    for (const [i, n] of lab.nodes.entries()) lab.vms.push({ name: `c${i}`, net: bad.key, node: n, ip: `10.30.0.${11 + i}`, mac: mac(0x31 + i) });
    for (const n of lab.nodes) {
      const r = await (await dp(n)).reconcile(lab.intent(n));
      expect(r.errors.length, `errors on ${n}`).toBeGreaterThan(0);
      expect(r.errors.filter((e) => !(e.vni === 300 && e.network === 'tenant-c/bad')), `only tenant-c/bad fails on ${n}`).toEqual([]);
    }
    await startServer(lab.extNs, 7001, 'peer');
    expect(await ping(lab.vmNs('a1'), '10.10.0.12')).toBe(true);
    expect(await ping(lab.vmNs('a1'), '10.10.0.1')).toBe(true);
    expect(await ask(lab.vmNs('a2'), EXT_IP, 7001)).toBe('198.18.0.12');
  });

  /** What a restart must not touch: devices (ifindexes), FDB, nft rules (handles), TC programs and maps (ids, contents). */
  const owned = (n: string) => nodeDataplane(lab!.nodeNs(n), { node: lab!.nodeName(n), pinDir: bpffs.has(n) ? names.pinDir(bpffs.get(n)!) : undefined, programs: true });

  it('reprograms nothing for a restarted agent: zero changes, the same devices, rules, programs and maps, traffic flowing', async () => {
    lab = new Lab();
    await lab.build([A], [A1, A2]);
    expect(await reconcileAll()).toBeGreaterThan(0);
    const before = await Promise.all(lab.nodes.map(owned));
    if (mode === 'bpf') expect(before[0]).toMatch(/vxm_from_vm/); // the snapshot does see the attachments
    // A new dataplane object per node = a restarted agent (no state but what the node holds).
    for (const p of planes.values()) await p.close();
    planes.clear();
    for (const n of lab.nodes) {
      const r = await (await dp(n)).reconcile(lab.intent(n));
      expect(r.errors).toEqual([]);
      expect(r.changes, `changes after a restart on ${n}`).toBe(0);
    }
    expect(await Promise.all(lab.nodes.map(owned))).toEqual(before);
    expect(await ping(lab.vmNs('a1'), '10.10.0.12')).toBe(true);
    // Positive control: the snapshot does change when something is reprogrammed.
    await sh(lab.nodeNs('n2'), ['ip', 'link', 'del', names.gatewayPort(A.vni)]);
    expect((await (await dp('n2')).reconcile(lab.intent('n2'))).changes).toBeGreaterThan(0);
    expect(await owned('n2')).not.toEqual(before[1]);
  });
});
