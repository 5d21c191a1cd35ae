/**
 * The pure parts around vxmesh's CNI plugin that are not the plugin (the plugin is Go, cni/, with its own
 * unit tests run by plugin-go.test.ts): the binding the agent matches to a VMI interface, the NAD the
 * controller writes, Multus's stdin/CNI_ARGS for it, and the NAD's update rules.
 */
import { describe, expect, it } from 'vitest';
import { multusCniArgs, pluginStdin, pluginsOf } from '../../src/cni/invoke.js';
import { hostPortName } from '../../src/cni/port-name.js';
import { bindingKeysOf, kubevirtPodIfname, parsePortBinding } from '../../src/dataplane/port-binding.js';
import { assignPorts, vmPortsByVni } from '../../src/dataplane/vm-ports.js';
import { desiredNads, nadSpecForUpdate, nadUpToDate } from '../../src/controller/nad.js';
import { fixtureDocs, snapshotOf } from '../helpers/fixtures.js';
import type { EndpointIntent } from '../../src/intent/types.js';

describe('what the agent makes of a plugin-made port', () => {
  it('KubeVirt names the pod interface after the network; the binding keys name the VMI interface both ways', () => {
    // KubeVirt's own test vectors (pkg/network/namescheme/networknamescheme_test.go).
    expect(['red', 'green', 'network1'].map(kubevirtPodIfname)).toEqual(['podb1f51a511f1', 'podba4788b226a', 'poda7662f44d65']);
    expect(bindingKeysOf('t/a', 'nic1')).toEqual(['t/a/nic1', `t/a/${kubevirtPodIfname('nic1')}`]);
    expect(parsePortBinding(`vxmesh/tenant-a/vm-a1/${kubevirtPodIfname('nic1')}`)).toEqual({ vm: 'tenant-a/vm-a1', iface: kubevirtPodIfname('nic1') });
  });

  it('the agent binds a plugin-made port to its endpoint (positive) and not one naming another interface (negative)', () => {
    const a: EndpointIntent = { vm: 't/a', iface: 'nic1', mac: '02:00:00:00:00:0a', ip: '10.0.0.10', node: 'n1', vtep: '198.18.0.1', local: true };
    const link = (name: string, ifindex: number, alias: string) => ({ name, ifindex, up: true, mtu: 1450, addrs: [], master: 'vxb100', alias });
    const ports = vmPortsByVni([link('vxmc00000001', 7, `vxmesh/t/a/${kubevirtPodIfname('nic1')}`), link('vxmc00000002', 8, `vxmesh/t/a/${kubevirtPodIfname('nic2')}`)])[100]!;
    const r = assignPorts([a], ports);
    expect(r.portOf.get(a.mac)?.name).toBe('vxmc00000001');
    expect(r.unbound.map((p) => p.name)).toEqual(['vxmc00000002']);
  });

  it('the node-side port name the runtime side derives is the sha256 name of the attachment (the Go plugin\'s vectors)', () => {
    expect(hostPortName('c0ffee', 'pod1234')).toBe('vxmcf0c0828a'); // cni/internal/binding/binding_test.go
    expect(hostPortName('c0ffee', 'pod1235')).not.toBe(hostPortName('c0ffee', 'pod1234'));
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
    expect(JSON.parse(stdin)).toEqual({ cniVersion: '1.0.0', name: 'blue', type: 'vxmesh-cni', vni: 100, mtu: 1450, capabilities: { mac: true }, runtimeConfig: { mac: '02:00:00:0a:00:01' } });
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
