/**
 * The pure parts of vxmesh's CNI plugin and of the NAD that names it: configuration and environment
 * parsing (with the CNI error codes a runtime sees), what the plugin can know about the VM from its
 * invocation, the binding the agent matches, the ADD plan, CHECK's comparison, Multus's stdin/CNI_ARGS,
 * and the NAD's shape and update rules.
 */
import { describe, expect, it } from 'vitest';
import { parseNetConf, normalizeMac } from '../../src/cni/config.js';
import { parseCniArgs, parseEnv } from '../../src/cni/env.js';
import { bindingOf, hostPortName, vmiOfPod } from '../../src/cni/binding.js';
import { checkProblems, planAdd, requestedMac, validAttachments } from '../../src/cni/plugin.js';
import { CniCode, CniError, errorJson } from '../../src/cni/spec.js';
import { multusCniArgs, pluginStdin, pluginsOf } from '../../src/cni/invoke.js';
import { runCommand } from '../../src/cni/command.js';
import { bindingKeysOf, kubevirtPodIfname, parsePortBinding } from '../../src/dataplane/port-binding.js';
import { assignPorts, vmPortsByVni } from '../../src/dataplane/vm-ports.js';
import { desiredNads, nadSpecForUpdate, nadUpToDate } from '../../src/controller/nad.js';
import { fixtureDocs, snapshotOf } from '../helpers/fixtures.js';
import type { EndpointIntent } from '../../src/intent/types.js';

const conf = (over: Record<string, unknown> = {}) => JSON.stringify({ cniVersion: '1.0.0', name: 'blue', type: 'vxmesh-cni', vni: 100, mtu: 1450, ...over });
const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof CniError ? e.cniCode : -1;
  }
  return 0;
};
const env = (over: Record<string, string | undefined> = {}) => ({
  CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c0ffee', CNI_NETNS: '/var/run/netns/x', CNI_IFNAME: 'pod1234', CNI_PATH: '/opt/cni/bin',
  CNI_ARGS: 'IgnoreUnknown=true;K8S_POD_NAMESPACE=tenant-a;K8S_POD_NAME=virt-launcher-vm-a1-x7k2p;K8S_POD_INFRA_CONTAINER_ID=c0ffee;K8S_POD_UID=u1',
  ...over,
});

describe('network configuration', () => {
  it('takes the plugin entry as libcni hands it over', () => {
    const c = parseNetConf(conf({ runtimeConfig: { mac: '02:00:0A:00:01:01' } }));
    expect(c).toMatchObject({ cniVersion: '1.0.0', name: 'blue', vni: 100, mtu: 1450, bridge: 'vxb100', runtimeMac: '02:00:0A:00:01:01' });
  });

  it('refuses what it cannot decode (6), a wrong field (7) and an unknown version (1)', () => {
    expect(code(() => parseNetConf(conf()))).toBe(0);
    expect(code(() => parseNetConf('{"cniVersion": '))).toBe(CniCode.decodeFailure);
    expect(code(() => parseNetConf(conf({ vni: 0 })))).toBe(CniCode.invalidConfig);
    expect(code(() => parseNetConf(conf({ vni: 16_777_216 })))).toBe(CniCode.invalidConfig);
    expect(code(() => parseNetConf(conf({ mtu: 100 })))).toBe(CniCode.invalidConfig);
    expect(code(() => parseNetConf(conf({ name: '' })))).toBe(CniCode.invalidConfig);
    expect(code(() => parseNetConf(conf({ cniVersion: '2.0.0' })))).toBe(CniCode.incompatibleVersion);
  });

  it('accepts unicast MACs only', () => {
    expect(normalizeMac('02-00-0A-00-01-01')).toBe('02:00:0a:00:01:01');
    expect(normalizeMac('01:00:5e:00:00:01')).toBeUndefined(); // multicast
    expect(normalizeMac('00:00:00:00:00:00')).toBeUndefined();
    expect(normalizeMac('02:00:0a:00:01')).toBeUndefined();
  });
});

describe('environment', () => {
  it('reads the CNI variables and the arguments Multus passes', () => {
    const e = parseEnv(env({ CNI_ARGS: `${env().CNI_ARGS};MAC=02:00:0a:00:01:01` }));
    expect(e).toMatchObject({ command: 'ADD', containerId: 'c0ffee', netns: '/var/run/netns/x', ifname: 'pod1234', path: ['/opt/cni/bin'] });
    expect(e.args).toEqual({ podNamespace: 'tenant-a', podName: 'virt-launcher-vm-a1-x7k2p', infraContainerId: 'c0ffee', podUid: 'u1', mac: '02:00:0a:00:01:01' });
  });

  it('refuses missing or invalid variables with code 4; unknown CNI_ARGS only without IgnoreUnknown', () => {
    expect(code(() => parseEnv(env()))).toBe(0);
    expect(code(() => parseEnv(env({ CNI_IFNAME: undefined })))).toBe(CniCode.invalidEnv);
    expect(code(() => parseEnv(env({ CNI_IFNAME: 'a/b' })))).toBe(CniCode.invalidEnv);
    expect(code(() => parseEnv(env({ CNI_IFNAME: 'sixteen-chars-xx' })))).toBe(CniCode.invalidEnv);
    expect(code(() => parseEnv(env({ CNI_CONTAINERID: '-x' })))).toBe(CniCode.invalidEnv);
    expect(code(() => parseEnv(env({ CNI_NETNS: undefined })))).toBe(CniCode.invalidEnv);
    expect(code(() => parseEnv(env({ CNI_NETNS: undefined, CNI_COMMAND: 'DEL' })))).toBe(0); // DEL may come without a netns
    expect(code(() => parseEnv(env({ CNI_COMMAND: 'FROB' })))).toBe(CniCode.invalidEnv);
    expect(parseCniArgs('IgnoreUnknown=1;FOO=bar;K8S_POD_NAME=p')).toEqual({ podName: 'p' });
    expect(code(() => parseCniArgs('FOO=bar;K8S_POD_NAME=p'))).toBe(CniCode.invalidEnv);
  });
});

describe('what the plugin knows about the VM', () => {
  it('names the VMI from its launcher pod, and refuses pods that are not one or whose name may be cut', () => {
    expect(vmiOfPod('virt-launcher-vm-a1-x7k2p')).toEqual({ vmi: 'vm-a1' });
    const vmi42 = 'v'.repeat(42);
    expect(vmiOfPod(`virt-launcher-${vmi42}-abcde`)).toEqual({ vmi: vmi42 }); // 62 characters: not cut
    expect(vmiOfPod(`virt-launcher-${'v'.repeat(43)}-abcde`)).toHaveProperty('problem'); // 63: maybe cut
    expect(vmiOfPod('nginx-7f9c-abcde')).toHaveProperty('problem');
  });

  it('binds the port to <namespace>/<vmi>/<pod interface>, which the agent matches to the VMI interface', () => {
    const e = parseEnv(env({ CNI_IFNAME: kubevirtPodIfname('nic1') }));
    const b = bindingOf(e.args, e.ifname);
    expect(b).toEqual({ vm: 'tenant-a/vm-a1', iface: kubevirtPodIfname('nic1') });
    expect(code(() => bindingOf({ podNamespace: 'tenant-a' }, 'x'))).toBe(CniCode.unknownVmi);
    // KubeVirt's own test vectors (pkg/network/namescheme/networknamescheme_test.go).
    expect(['red', 'green', 'network1'].map(kubevirtPodIfname)).toEqual(['podb1f51a511f1', 'podba4788b226a', 'poda7662f44d65']);
    expect(bindingKeysOf('t/a', 'nic1')).toEqual(['t/a/nic1', `t/a/${kubevirtPodIfname('nic1')}`]);
  });

  it('the agent binds a plugin-made port to its endpoint (positive) and not one naming another interface (negative)', () => {
    const a: EndpointIntent = { vm: 't/a', iface: 'nic1', mac: '02:00:00:00:00:0a', ip: '10.0.0.10', node: 'n1', vtep: '198.18.0.1', local: true };
    const link = (name: string, ifindex: number, alias: string) => ({ name, ifindex, up: true, mtu: 1450, addrs: [], master: 'vxb100', alias });
    const ports = vmPortsByVni([link('vxmc00000001', 7, `vxmesh/t/a/${kubevirtPodIfname('nic1')}`), link('vxmc00000002', 8, `vxmesh/t/a/${kubevirtPodIfname('nic2')}`)])[100]!;
    const r = assignPorts([a], ports);
    expect(r.portOf.get(a.mac)?.name).toBe('vxmc00000001');
    expect(r.unbound.map((p) => p.name)).toEqual(['vxmc00000002']);
  });

  it('the node-side port name derives from the attachment and is never an agent-owned name', () => {
    expect(hostPortName('c0ffee', 'pod1234')).toMatch(/^vxmc[0-9a-f]{8}$/);
    expect(hostPortName('c0ffee', 'pod1234')).toBe(hostPortName('c0ffee', 'pod1234'));
    expect(hostPortName('c0ffee', 'pod1235')).not.toBe(hostPortName('c0ffee', 'pod1234'));
  });
});

describe('ADD, CHECK, GC decisions', () => {
  const e = parseEnv(env());
  const c = parseNetConf(conf({ cniVersion: '1.1.0' }));

  it('plans the veth pair with the MTU and MAC, the binding before the bridge, and a 1.1 result', () => {
    const p = planAdd(c, e, 'vxmesh/tenant-a/vm-a1/pod1234', '02:00:0a:00:01:01', '02:aa:aa:aa:aa:aa', false);
    expect(p.host).toEqual([
      `link add ${p.port} mtu 1450 address 02:aa:aa:aa:aa:aa type veth peer name pod1234 mtu 1450 address 02:00:0a:00:01:01 netns /var/run/netns/x`,
      `link set dev ${p.port} alias vxmesh/tenant-a/vm-a1/pod1234`,
      `link set dev ${p.port} master vxb100`,
      `link set dev ${p.port} up`,
    ]);
    expect(p.result).toEqual({
      cniVersion: '1.1.0',
      interfaces: [{ name: p.port, mac: '02:aa:aa:aa:aa:aa', mtu: 1450 }, { name: 'pod1234', mac: '02:00:0a:00:01:01', mtu: 1450, sandbox: '/var/run/netns/x' }],
      ips: [],
      dns: {},
    });
    expect(planAdd(parseNetConf(conf()), e, 'a', 'm', 'h', true).host[0]).toBe(`link del dev ${p.port}`);
    expect(planAdd(parseNetConf(conf()), e, 'a', 'm', 'h', false).result.interfaces[0]).not.toHaveProperty('mtu'); // 1.0: no mtu in results
  });

  it('takes the MAC from runtimeConfig first, then CNI_ARGS, and refuses a multicast one', () => {
    const withArgs = parseEnv(env({ CNI_ARGS: `${env().CNI_ARGS};MAC=02:00:00:00:00:02` }));
    expect(requestedMac(parseNetConf(conf({ runtimeConfig: { mac: '02:00:00:00:00:01' } })), withArgs)).toBe('02:00:00:00:00:01');
    expect(requestedMac(parseNetConf(conf()), withArgs)).toBe('02:00:00:00:00:02');
    expect(requestedMac(parseNetConf(conf()), e)).toBeUndefined();
    expect(code(() => requestedMac(parseNetConf(conf({ runtimeConfig: { mac: '03:00:00:00:00:01' } })), e))).toBe(CniCode.invalidConfig);
  });

  it('CHECK passes on what ADD made and names every difference otherwise', () => {
    const alias = 'vxmesh/tenant-a/vm-a1/pod1234';
    const p = planAdd(c, e, alias, '02:00:0a:00:01:01', '02:aa:aa:aa:aa:aa', false);
    const withPrev = { ...c, prevResult: p.result };
    const host = { kind: 'veth', master: 'vxb100', up: true, mtu: 1450, alias };
    const cont = { up: true, mtu: 1450, mac: '02:00:0a:00:01:01' };
    expect(checkProblems(withPrev, e, alias, host, cont)).toEqual([]);
    expect(checkProblems(withPrev, e, alias, { ...host, mtu: 1500, master: undefined }, { ...cont, mac: '02:00:0a:00:01:02' })).toEqual([
      `${p.port} is in no bridge, not vxb100`, `${p.port} has MTU 1500, not 1450`, 'pod1234 has MAC 02:00:0a:00:01:02, not 02:00:0a:00:01:01',
    ]);
    expect(checkProblems(withPrev, e, alias, undefined, undefined)).toEqual([`node-side interface ${p.port} is missing`, 'pod1234 is missing in /var/run/netns/x']);
  });

  it('GC reads the valid attachments', () => {
    expect(validAttachments({ 'cni.dev/valid-attachments': [{ containerID: 'a', ifname: 'eth0' }, { bogus: 1 }] })).toEqual([{ containerID: 'a', ifname: 'eth0' }]);
  });
});

describe('error objects and VERSION', () => {
  it('prints {cniVersion, code, msg, details} and exits 1', async () => {
    const r = await runCommand(env(), conf({ mtu: 'big' }));
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({ cniVersion: '1.0.0', code: 7, msg: 'invalid network configuration: mtu must be an integer in 576..9216 (got "big")' });
    expect(errorJson(new Error('boom'))).toEqual({ cniVersion: '1.1.0', code: 5, msg: 'vxmesh-cni failed', details: 'boom' });
    const v = await runCommand({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.0.0"}');
    expect(v.code).toBe(0);
    expect(JSON.parse(v.stdout)).toEqual({ cniVersion: '1.1.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
    const s = await runCommand(env({ CNI_COMMAND: 'STATUS' }), conf());
    expect(JSON.parse(s.stdout)).toMatchObject({ code: CniCode.incompatibleVersion }); // STATUS is a 1.1 verb
  });
});

describe('the NAD and what Multus makes of it', () => {
  const snapshot = snapshotOf(fixtureDocs('two-tenants.yaml')).snapshot;
  const [blue, red] = desiredNads(snapshot, new Map());

  it('is a conflist Harvester reads as an untagged network of the cluster network; the plugin entry carries VNI and overlay MTU', () => {
    expect(JSON.parse(blue!.spec.config)).toEqual({
      cniVersion: '1.0.0', name: 'blue', bridge: 'overlay-br', mtu: 1500,
      plugins: [{ type: 'vxmesh-cni', vni: 100, mtu: 1450, capabilities: { mac: true } }],
    });
    expect(JSON.parse(red!.spec.config).plugins[0]).toMatchObject({ vni: 200, mtu: 1400 });
    expect(blue!.metadata.labels).toMatchObject({ 'network.harvesterhci.io/type': 'UntaggedNetwork', 'network.harvesterhci.io/clusternetwork': 'overlay' });
  });

  it('gives the plugin its entry with name, cniVersion and runtimeConfig.mac, and Multus CNI_ARGS', () => {
    const list = pluginsOf(blue!.spec.config);
    const a = { containerId: 'c0ffee', netns: '/var/run/netns/x', ifname: 'pod1', podNamespace: 'tenant-a', podName: 'virt-launcher-a1-x7k2p', mac: '02:00:00:0a:00:01' };
    const stdin = pluginStdin(list, list.plugins[0]!, a);
    expect(parseNetConf(stdin)).toMatchObject({ cniVersion: '1.0.0', name: 'blue', vni: 100, mtu: 1450, runtimeMac: '02:00:00:0a:00:01' });
    expect(JSON.parse(pluginStdin(list, { type: 'x' }, a))).not.toHaveProperty('runtimeConfig'); // no capability, no runtimeConfig
    expect(multusCniArgs(a)).toBe('IgnoreUnknown=true;K8S_POD_NAMESPACE=tenant-a;K8S_POD_NAME=virt-launcher-a1-x7k2p;K8S_POD_INFRA_CONTAINER_ID=c0ffee;K8S_POD_UID=;MAC=02:00:00:0a:00:01');
    expect(parsePortBinding(`vxmesh/tenant-a/a1/${kubevirtPodIfname('nic1')}`)).toBeDefined();
  });

  it('Harvester rewriting the top-level mtu leaves it up to date; an update keeps Harvester\'s mtu', () => {
    const harvested = { ...blue!, spec: { config: JSON.stringify({ ...JSON.parse(blue!.spec.config), mtu: 9000 }) } };
    expect(nadUpToDate(harvested, blue!)).toBe(true);
    const changed = { ...blue!, spec: { config: blue!.spec.config.replace('"vni":100', '"vni":101') } };
    expect(nadUpToDate(harvested, changed)).toBe(false);
    expect(JSON.parse(nadSpecForUpdate(harvested, changed).config)).toMatchObject({ mtu: 9000, plugins: [{ vni: 101 }] });
    const old = { ...blue!, spec: { config: '{"cniVersion":"0.3.1","name":"blue","type":"bridge","bridge":"vxb100","mtu":1450}' } };
    expect(nadUpToDate(old, blue!)).toBe(false);
    expect(nadSpecForUpdate(old, blue!)).toEqual(blue!.spec); // the old shape's mtu was vxmesh's: not kept
  });
});
