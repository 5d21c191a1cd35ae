/**
 * vxmesh's CNI plugin (the Go binary build/out/cni/vxmesh-cni, built from cni/) invoked as Multus invokes
 * it (src/cni/invoke.ts: CNI_* variables, Multus's CNI_ARGS, the NAD's plugin entry on stdin) against real
 * namespaces: a node namespace with the network's bridge (built here the way the agent builds it) and VM
 * namespaces. ADD/CHECK/DEL/VERSION/STATUS/GC, idempotent DEL, error objects, MTU and MAC, the binding the
 * agent matches, ADD time.
 * Run under the machine-wide lock: flock /tmp/vxm-netns.lock npx vitest run test/cni/plugin.test.ts
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/util/exec.js';
import { addNetwork, checkNetwork, CniInvokeError, delNetwork, execPlugin, pluginStdin, pluginsOf, statusNetwork, type Attachment } from '../../src/cni/invoke.js';
import { hostPortName } from '../../src/cni/port-name.js';
import { pluginDir } from '../../src/cni/plugin-binary.js';
import { CniCode } from '../../src/cni/spec.js';
import { desiredNads } from '../../src/controller/nad.js';
import { kubevirtPodIfname } from '../../src/dataplane/port-binding.js';
import { listLinks } from '../../src/dataplane/netlink/link.js';
import { assignPorts, vmPortsByVni } from '../../src/dataplane/vm-ports.js';
import { fixtureDocs, snapshotOf } from '../helpers/fixtures.js';

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const id = randomBytes(2).toString('hex');
const NODE = `vxm-c${id}-node`;
const VM1 = `vxm-c${id}-vm1`;
const VM2 = `vxm-c${id}-vm2`;
const opts = { cniPath: [pluginDir(REPO)], hostNetns: NODE };
const blue = desiredNads(snapshotOf(fixtureDocs('two-tenants.yaml')).snapshot, new Map())[0]!; // VNI 100, MTU 1450
const CONFIG = String(blue.spec.config);
const MAC = '02:00:00:0a:00:01';
const att = (vmNs: string, over: Partial<Attachment> = {}): Attachment => ({
  containerId: `${vmNs}-c`, netns: `/var/run/netns/${vmNs}`, ifname: kubevirtPodIfname('nic1'),
  podNamespace: 'tenant-a', podName: 'virt-launcher-a1-x7k2p', mac: MAC, ...over,
});
const ip = (ns: string, args: string[]) => run(['ip', ...args], { netns: ns });
const linkJson = async (ns: string, dev: string) => {
  const r = await run(['ip', '-j', '-d', 'link', 'show', 'dev', dev], { netns: ns, allowFailure: true });
  return r.exitCode === 0 ? (JSON.parse(r.stdout) as Array<Record<string, any>>)[0] : undefined;
};
/** The plugin's error for `f` (the code and the whole error object). */
async function failure(f: () => Promise<unknown>): Promise<CniInvokeError> {
  try {
    await f();
  } catch (e) {
    if (e instanceof CniInvokeError) return e;
    throw e;
  }
  throw new Error('expected the plugin to fail');
}
const singlePlugin = (over: Record<string, unknown>) => JSON.stringify({ cniVersion: '1.1.0', name: 'blue', type: 'vxmesh-cni', vni: 100, mtu: 1450, ...over });

beforeAll(async () => {
  await run(['bash', path.join(REPO, 'build/cni-plugin.sh')], { timeoutMs: 300_000 }); // current with cni/
  for (const ns of [NODE, VM1, VM2]) await run(['ip', 'netns', 'add', ns]);
  await ip(NODE, ['link', 'add', 'vxb100', 'mtu', '1450', 'type', 'bridge']);
  await ip(NODE, ['link', 'set', 'vxb100', 'up']);
});

afterAll(async () => {
  for (const ns of [NODE, VM1, VM2]) await run(['ip', 'netns', 'del', ns], { allowFailure: true });
});

describe('vxmesh-cni invoked as Multus invokes it', () => {
  it('VERSION names the spec versions it speaks', async () => {
    const r = await execPlugin('VERSION', 'vxmesh-cni', undefined, '{"cniVersion":"1.1.0"}', opts);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ cniVersion: '1.1.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  });

  it("ADD plugs the VM's interface into its VNI's bridge with the overlay MTU, the VM's MAC and the binding the agent matches", async () => {
    const a = att(VM1);
    const result = (await addNetwork(CONFIG, a, opts)) as Record<string, any>;
    const port = hostPortName(a.containerId, a.ifname);
    expect(result).toEqual({
      cniVersion: '1.0.0',
      interfaces: [{ name: port, mac: expect.stringMatching(/^[0-9a-f:]{17}$/) }, { name: a.ifname, mac: MAC, sandbox: a.netns }],
      ips: [],
      dns: {},
    });
    const guest = await linkJson(VM1, a.ifname);
    expect(guest).toMatchObject({ mtu: 1450, address: MAC, operstate: 'UP' });
    const host = await linkJson(NODE, port);
    expect(host).toMatchObject({ mtu: 1450, master: 'vxb100', ifalias: `vxmesh/tenant-a/a1/${kubevirtPodIfname('nic1')}`, address: result.interfaces[0].mac });
    expect(host!.linkinfo.info_kind).toBe('veth');
    // The agent's own reading of the node: the port is bound to VMI tenant-a/a1's interface nic1 (and not to a2's).
    const ports = vmPortsByVni(await listLinks({ netns: NODE }))[100]!;
    const ep = (vm: string) => ({ vm, iface: 'nic1', mac: MAC, ip: '10.10.0.10', node: 'n1', vtep: '198.18.0.11', local: true });
    expect(assignPorts([ep('tenant-a/a1')], ports).portOf.get(MAC)?.name).toBe(port);
    expect(assignPorts([ep('tenant-a/a2')], ports).portOf.size).toBe(0);
  });

  it('CHECK passes on the attachment and fails (101) naming what differs', async () => {
    const a = att(VM1);
    const prev = await addNetwork(CONFIG, att(VM1, { containerId: `${VM1}-check`, ifname: 'podcheck' }), opts);
    const b = att(VM1, { containerId: `${VM1}-check`, ifname: 'podcheck' });
    await checkNetwork(CONFIG, b, prev, opts);
    const port = hostPortName(b.containerId, b.ifname);
    await ip(NODE, ['link', 'set', 'dev', port, 'mtu', '1400']);
    const e = await failure(() => checkNetwork(CONFIG, b, prev, opts));
    expect(e.cniCode).toBe(CniCode.checkFailed);
    expect(e.details).toContain(`${port} has MTU 1400, not 1450`);
    await delNetwork(CONFIG, b, prev, opts);
    expect(await linkJson(VM1, a.ifname)).toBeDefined(); // the first attachment is untouched
  });

  it('DEL removes both ends; DEL again, or with the namespace gone, succeeds (idempotent)', async () => {
    const a = att(VM1);
    await delNetwork(CONFIG, a, undefined, opts);
    expect(await linkJson(NODE, hostPortName(a.containerId, a.ifname))).toBeUndefined();
    expect(await linkJson(VM1, a.ifname)).toBeUndefined();
    await delNetwork(CONFIG, a, undefined, opts);
    await delNetwork(CONFIG, { ...a, netns: '' }, undefined, opts);
    await delNetwork(CONFIG, { ...a, netns: '/var/run/netns/vxm-none' }, undefined, opts);
  });

  it('takes the MAC from CNI_ARGS when the entry declares no mac capability, and picks a local unicast one when none is asked', async () => {
    const withArgs = (await addNetwork(singlePlugin({}), att(VM2, { ifname: 'podargs' }), opts)) as Record<string, any>;
    expect(withArgs.interfaces[1]).toMatchObject({ name: 'podargs', mac: MAC, mtu: 1450 }); // 1.1 results carry mtu
    expect((await linkJson(VM2, 'podargs'))!.address).toBe(MAC);
    const none = (await addNetwork(CONFIG, att(VM2, { ifname: 'podnone', mac: undefined }), opts)) as Record<string, any>;
    const mac = none.interfaces[1].mac as string;
    expect(parseInt(mac.slice(0, 2), 16) & 3).toBe(2); // locally administered, unicast
    expect((await linkJson(VM2, 'podnone'))!.address).toBe(mac);
    for (const ifname of ['podargs', 'podnone']) await delNetwork(CONFIG, att(VM2, { ifname }), undefined, opts);
  });

  it('errors are CNI error objects: no bridge yet (11, then plugs once it exists), not a launcher pod (100), bad config (7), undecodable (6), bad env (4), no namespace (3)', async () => {
    const red = CONFIG.replace('"vni":100', '"vni":300');
    const noBridge = await failure(() => addNetwork(red, att(VM2), opts));
    expect(noBridge.cniCode).toBe(CniCode.tryAgainLater);
    expect(noBridge.message).toContain('no bridge vxb300');
    expect(await linkJson(NODE, hostPortName(att(VM2).containerId, att(VM2).ifname))).toBeUndefined(); // nothing left behind
    await ip(NODE, ['link', 'add', 'vxb300', 'mtu', '1450', 'type', 'bridge']);
    await ip(NODE, ['link', 'set', 'vxb300', 'up']);
    await addNetwork(red, att(VM2), opts); // positive control
    await delNetwork(red, att(VM2), undefined, opts);

    expect((await failure(() => addNetwork(CONFIG, att(VM2, { podName: 'nginx-5d8c7-abcde' }), opts))).cniCode).toBe(CniCode.unknownVmi);
    expect((await failure(() => addNetwork(CONFIG, att(VM2, { netns: '/var/run/netns/vxm-none' }), opts))).cniCode).toBe(CniCode.unknownContainer);

    const raw = async (stdin: string, env: Partial<Attachment> = {}) => {
      const r = await execPlugin('ADD', 'vxmesh-cni', att(VM2, env), stdin, opts);
      return { exitCode: r.exitCode, error: JSON.parse(r.stdout) as Record<string, unknown> };
    };
    const bad = await raw(singlePlugin({ mtu: 70000 }));
    expect(bad).toEqual({ exitCode: 1, error: { cniVersion: '1.1.0', code: 7, msg: 'invalid network configuration: mtu must be an integer in 576..9216 (got 70000)' } });
    expect((await raw('{"cniVersion":')).error).toMatchObject({ code: 6, msg: 'cannot decode the network configuration' });
    expect((await raw(singlePlugin({}), { ifname: 'a/b' })).error).toMatchObject({ code: 4 });
    expect(await linkJson(VM2, kubevirtPodIfname('nic1'))).toBeUndefined();
  });

  it('STATUS is ready while the bridge is up (50 when it is down); GC removes the ports of attachments that are gone', async () => {
    const status = singlePlugin({});
    const list = pluginsOf(status);
    await statusNetwork(status, opts);
    await ip(NODE, ['link', 'set', 'vxb100', 'down']);
    expect((await failure(() => statusNetwork(status, opts))).cniCode).toBe(CniCode.notAvailable);
    await ip(NODE, ['link', 'set', 'vxb100', 'up']);
    await statusNetwork(status, opts);

    const keep = att(VM2, { containerId: 'keep', ifname: 'podkeep' });
    const stale = att(VM2, { containerId: 'stale', ifname: 'podstale' });
    for (const a of [keep, stale]) await addNetwork(status, a, opts);
    const gcStdin = JSON.parse(pluginStdin(list, list.plugins[0]!, {}));
    gcStdin['cni.dev/valid-attachments'] = [{ containerID: 'keep', ifname: 'podkeep' }];
    const r = await execPlugin('GC', 'vxmesh-cni', undefined, JSON.stringify(gcStdin), opts);
    expect(r.exitCode).toBe(0);
    expect(await linkJson(NODE, hostPortName('keep', 'podkeep'))).toBeDefined();
    expect(await linkJson(NODE, hostPortName('stale', 'podstale'))).toBeUndefined();
    await delNetwork(status, keep, undefined, opts);
  });

  it('ten ADDs in a row each plug their port (timing is printed; the speed figure lives in the bench)', async () => {
    const list = pluginsOf(CONFIG);
    const ms: number[] = [];
    for (let i = 0; i < 10; i++) {
      const a = att(VM2, { containerId: `time${i}`, ifname: `podt${i}` });
      const r = await execPlugin('ADD', 'vxmesh-cni', a, pluginStdin(list, list.plugins[0]!, a), opts);
      expect(r.exitCode).toBe(0);
      expect(await linkJson(NODE, hostPortName(a.containerId, a.ifname))).toMatchObject({ master: 'vxb100', mtu: 1450 });
      ms.push(r.ms);
    }
    for (let i = 0; i < 10; i++) await delNetwork(CONFIG, att(VM2, { containerId: `time${i}`, ifname: `podt${i}` }), undefined, opts);
    ms.sort((x, y) => x - y);
    const median = ms[5]!;
    console.log(`vxmesh-cni ADD: median ${median.toFixed(0)} ms, min ${ms[0]!.toFixed(0)} ms, max ${ms[9]!.toFixed(0)} ms (10 ADDs, incl. ip netns exec)`);
  });
});
