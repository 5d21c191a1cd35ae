/**
 * Issue 19, fault injection: a router namespace that cannot be read in one pass is an error of that pass
 * for its network, never read as empty. Real namespaces, devices and traffic (kernel dataplane); the fault
 * is injected into the observation only (listing the router's links fails), so the dataplane under test is
 * the real one. Asserts nothing was deleted or recreated (same ifindexes) and traffic kept flowing.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Lab, ping, startServer, ask, EXT_IP } from '../helpers/kernel-lab.js';
import { createKernelDataplane } from '../../src/dataplane/kernel/index.js';
import { listLinks } from '../../src/dataplane/netlink/link.js';
import { names } from '../../src/dataplane/names.js';

const fault = vi.hoisted(() => ({ routerNs: undefined as string | undefined }));

vi.mock('../../src/dataplane/netlink/link.js', async (importOriginal) => {
  const m = await importOriginal<typeof import('../../src/dataplane/netlink/link.js')>();
  return {
    ...m,
    listLinks: async (opts: Parameters<typeof m.listLinks>[0] = {}) => {
      if (fault.routerNs && opts.routerNs === fault.routerNs) throw new Error('injected fault: cannot enter the router namespace');
      return m.listLinks(opts);
    },
  };
});

const A = { key: 'tenant-a/net', vni: 100, cidr: '10.10.0.0/24', gateway: '10.10.0.1', natOutgoing: true };
const mac = (n: number) => `52:54:00:00:00:${n.toString(16).padStart(2, '0')}`;

let lab: Lab | undefined;

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('integration tests need root (CAP_NET_ADMIN) to create namespaces');
});

afterEach(async () => {
  fault.routerNs = undefined;
  await lab?.destroy();
  lab = undefined;
});

describe('an unreadable router namespace', () => {
  it('fails the pass for its network only: nothing deleted or recreated, traffic through the router keeps flowing, and the next readable pass has nothing to do', async () => {
    lab = new Lab();
    await lab.build([A], [
      { name: 'a1', net: A.key, node: 'n1', ip: '10.10.0.11', mac: mac(0x11) },
      { name: 'a2', net: A.key, node: 'n2', ip: '10.10.0.12', mac: mac(0x12) },
    ]);
    const dps = Object.fromEntries(lab.nodes.map((n) => [n, createKernelDataplane({ node: lab!.nodeName(n), netns: lab!.nodeNs(n), log: lab!.log })]));
    for (const n of lab.nodes) expect((await dps[n]!.reconcile(lab.intent(n))).errors).toEqual([]);
    await startServer(lab.extNs, 8080, 'peer');
    expect(await ask(lab.vmNs('a1'), EXT_IP, 8080)).toBe('198.18.0.11');

    const router = names.routerNetns(lab.nodeName('n1'), A.vni);
    const devices = async () => {
      const node = (await listLinks({ netns: lab!.nodeNs('n1') })).filter((l) => /^vx[gob]100$/.test(l.name)).map((l) => `${l.name}:${l.ifindex}`);
      const inner = (await listLinks({ routerNs: router })).map((l) => `${l.name}:${l.ifindex}:${l.addrs.join(',')}`);
      return { node: node.sort(), inner: inner.sort() };
    };
    const before = await devices();
    expect(before.node).toHaveLength(3);

    fault.routerNs = router;
    const r = await dps.n1!.reconcile(lab.intent('n1'));
    expect(r.errors).toEqual([{ vni: 100, network: A.key, message: expect.stringContaining(`router namespace ${router} unreadable, left as it is`) }]);
    expect(r.changes).toBe(0);
    fault.routerNs = undefined;

    expect(await devices()).toEqual(before);
    expect(await ask(lab.vmNs('a1'), EXT_IP, 8080)).toBe('198.18.0.11');
    expect(await ping(lab.vmNs('a1'), '10.10.0.12')).toBe(true);
    const next = await dps.n1!.reconcile(lab.intent('n1'));
    expect(next.errors).toEqual([]);
    expect(next.changes).toBe(0);
  });
});
