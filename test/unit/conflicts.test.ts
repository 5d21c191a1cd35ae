import { describe, expect, it } from 'vitest';
import { buildSnapshot, type LastGood } from '../../src/sources/validate.js';
import { fixtureDocs } from '../helpers/fixtures.js';

type Doc = Record<string, any>;
const base = (): Doc[] => structuredClone(fixtureDocs('two-tenants.yaml')) as Doc[];
const find = (docs: Doc[], kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name)!;
const net = (docs: Doc[], name: string) => find(docs, 'VxlanNetwork', name);
const vm = (docs: Doc[], name: string) => find(docs, 'VirtualMachineInstance', name);
const vmiOf = (name: string, ns: string, network: string, mac: string, annotations?: Record<string, string>): Doc => ({
  apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance',
  metadata: { name, namespace: ns, ...(annotations ? { annotations } : {}) },
  spec: { domain: { devices: { interfaces: [{ name: 'nic1', macAddress: mac }] } }, networks: [{ name: 'nic1', multus: { networkName: network } }] },
  status: { nodeName: 'node1' },
});
const alloc = (vmName: string, ns: string, network: string, ip: string): Doc => ({
  apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanIPAllocation',
  metadata: { name: `${vmName}.nic1`, namespace: ns }, spec: { network, vm: vmName, interface: 'nic1', ip },
});
const netOf = (name: string, ns: string, vni: number, cidr = '10.40.0.0/24', extra: Doc = {}): Doc => ({
  apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanNetwork', metadata: { name, namespace: ns }, spec: { clusterNetwork: 'overlay', vni, cidr, ...extra },
});
const messages = (r: { errors: Array<{ message: string }> }) => r.errors.map((e) => e.message);
const vniOf = (r: ReturnType<typeof buildSnapshot>, name: string) => r.snapshot.vxlanNetworks.find((n) => n.metadata.name === name)?.spec.vni;
const macOf = (r: ReturnType<typeof buildSnapshot>, name: string) => r.snapshot.vmis.find((v) => v.metadata.name === name)?.spec.domain.devices.interfaces[0]?.macAddress;

/** Accepts `docs`, then applies `edit` and builds again with the first pass's last good versions. */
function editAfterGood(docs: Doc[], edit: (docs: Doc[]) => void, firstSeen?: Map<string, number>) {
  const good = buildSnapshot(docs, new Map(), firstSeen ? { firstSeen } : {});
  expect(messages(good)).toEqual([]);
  const next = structuredClone(docs);
  edit(next);
  return buildSnapshot(next, good.lastGood, firstSeen ? { firstSeen } : {});
}

/** Both orders: the edited object the older one (creationTimestamp and name), or the younger one. */
const ORDERS = [['older', '2026-01-01T00:00:00Z', '2026-06-01T00:00:00Z'], ['younger', '2026-06-01T00:00:00Z', '2026-01-01T00:00:00Z']] as const;

describe('a conflicting edit rejects the edit, not the bystander', () => {
  it.each(ORDERS)('VNI: a network edited to another tenant\'s VNI is rejected and keeps its last good VNI (edited one %s)', (_o, editedTs, otherTs) => {
    const docs = base();
    net(docs, 'blue').metadata.creationTimestamp = editedTs;
    net(docs, 'red').metadata.creationTimestamp = otherTs;
    const r = editAfterGood(docs, (d) => (net(d, 'blue').spec.vni = 200));
    expect(messages(r)).toEqual(['VxlanNetwork tenant-a/blue: spec.vni 200 is already in use (VNIs are unique across the cluster: a node keys its bridges, routers and BPF maps by VNI alone); the last good version stays in force']);
    expect(vniOf(r, 'red')).toBe(200);
    expect(vniOf(r, 'blue')).toBe(100);
    expect(r.snapshot.vmis.map((v) => v.metadata.name).sort()).toEqual(['a1', 'a2', 'b1']);
  });

  it.each(ORDERS)('VNI: the other way round, red edited to blue\'s VNI is the one rejected (edited one %s)', (_o, editedTs, otherTs) => {
    const docs = base();
    net(docs, 'red').metadata.creationTimestamp = editedTs;
    net(docs, 'blue').metadata.creationTimestamp = otherTs;
    const r = editAfterGood(docs, (d) => (net(d, 'red').spec.vni = 100));
    expect(messages(r)).toEqual([expect.stringMatching(/^VxlanNetwork tenant-b\/red: spec.vni 100 is already in use .*; the last good version stays in force$/)]);
    expect([vniOf(r, 'blue'), vniOf(r, 'red')]).toEqual([100, 200]);
  });

  it.each(ORDERS)('MAC: a VM edited to another VM\'s MAC is rejected and keeps its last good MAC (edited one %s)', (_o, editedTs, otherTs) => {
    for (const [edited, other] of [['a1', 'a2'], ['a2', 'a1']] as const) {
      const docs = base();
      vm(docs, edited).metadata.creationTimestamp = editedTs;
      vm(docs, other).metadata.creationTimestamp = otherTs;
      const otherMac = vm(docs, other).spec.domain.devices.interfaces[0].macAddress;
      const ownMac = vm(docs, edited).spec.domain.devices.interfaces[0].macAddress;
      const r = editAfterGood(docs, (d) => (vm(d, edited).spec.domain.devices.interfaces[0].macAddress = otherMac));
      expect(messages(r)).toEqual([`VirtualMachineInstance tenant-a/${edited}: spec.domain.devices.interfaces[nic1].macAddress ${otherMac} is already in use by tenant-a/${other} nic1 in VxlanNetwork tenant-a/blue; the last good version stays in force`]);
      expect(macOf(r, other)).toBe(otherMac);
      expect(macOf(r, edited)).toBe(ownMac);
    }
  });

  it.each(ORDERS)('fixed IP: a VM edited to another VM\'s fixed IP is rejected and keeps its last good version (edited one %s)', (_o, editedTs, otherTs) => {
    for (const [edited, other] of [['a1', 'a2'], ['a2', 'a1']] as const) {
      const docs = base();
      vm(docs, other).metadata.annotations = { 'network.vxmesh.io/ip-address': '10.10.0.60' };
      vm(docs, edited).metadata.creationTimestamp = editedTs;
      vm(docs, other).metadata.creationTimestamp = otherTs;
      const r = editAfterGood(docs, (d) => (vm(d, edited).metadata.annotations = { 'network.vxmesh.io/ip-address': '10.10.0.60' }));
      expect(messages(r)).toEqual([`VirtualMachineInstance tenant-a/${edited}: metadata.annotations["network.vxmesh.io/ip-address"] 10.10.0.60 is already requested by tenant-a/${other} nic1 in VxlanNetwork tenant-a/blue; the last good version stays in force`]);
      expect(r.snapshot.vmis.find((v) => v.metadata.name === other)?.metadata.annotations).toEqual({ 'network.vxmesh.io/ip-address': '10.10.0.60' });
      expect(r.snapshot.vmis.find((v) => v.metadata.name === edited)?.metadata.annotations).toBeUndefined();
    }
  });

  it.each(ORDERS)('fixed IP: a VM edited to an address another NIC\'s allocation holds is rejected (edited one %s)', (_o, editedTs, otherTs) => {
    for (const [edited, other] of [['a1', 'a2'], ['a2', 'a1']] as const) {
      const docs = [...base(), alloc('a1', 'tenant-a', 'tenant-a/blue', '10.10.0.2'), alloc('a2', 'tenant-a', 'tenant-a/blue', '10.10.0.3')];
      vm(docs, edited).metadata.creationTimestamp = editedTs;
      vm(docs, other).metadata.creationTimestamp = otherTs;
      const held = other === 'a1' ? '10.10.0.2' : '10.10.0.3';
      const r = editAfterGood(docs, (d) => (vm(d, edited).metadata.annotations = { 'network.vxmesh.io/ip-address': held }));
      expect(messages(r)).toEqual([`VirtualMachineInstance tenant-a/${edited}: metadata.annotations["network.vxmesh.io/ip-address"] ${held} is already allocated to tenant-a/${other} nic1 in VxlanNetwork tenant-a/blue; the last good version stays in force`]);
      expect(r.snapshot.allocations.map((a) => a.spec.ip).sort()).toEqual(['10.10.0.2', '10.10.0.3']);
    }
  });

  it.each(ORDERS)('allocation: an allocation edited to another NIC\'s address is rejected and keeps its last good address (edited one %s)', (_o, editedTs, otherTs) => {
    for (const [edited, other] of [['a1', 'a2'], ['a2', 'a1']] as const) {
      const docs = [...base(), alloc('a1', 'tenant-a', 'tenant-a/blue', '10.10.0.2'), alloc('a2', 'tenant-a', 'tenant-a/blue', '10.10.0.3')];
      find(docs, 'VxlanIPAllocation', `${edited}.nic1`).metadata.creationTimestamp = editedTs;
      find(docs, 'VxlanIPAllocation', `${other}.nic1`).metadata.creationTimestamp = otherTs;
      const otherIp = other === 'a1' ? '10.10.0.2' : '10.10.0.3';
      const ownIp = edited === 'a1' ? '10.10.0.2' : '10.10.0.3';
      const r = editAfterGood(docs, (d) => (find(d, 'VxlanIPAllocation', `${edited}.nic1`).spec.ip = otherIp));
      expect(messages(r)).toEqual([`VxlanIPAllocation tenant-a/${edited}.nic1: spec.ip ${otherIp} is already allocated to tenant-a/${other} nic1; the last good version stays in force`]);
      const ip = (vmName: string) => r.snapshot.allocations.find((a) => a.spec.vm === vmName)?.spec.ip;
      expect([ip(other), ip(edited)]).toEqual([otherIp, ownIp]);
    }
  });

  it('rejects an object never seen good outright (no version of it is served)', () => {
    const docs = base();
    const good = buildSnapshot(docs);
    const r = buildSnapshot([...docs, netOf('green', 'tenant-a', 100)], good.lastGood);
    expect(messages(r)).toEqual([expect.stringMatching(/^VxlanNetwork tenant-a\/green: spec.vni 100 is already used by VxlanNetwork tenant-a\/blue \(VNIs are unique across the cluster/)]);
    expect(r.snapshot.vxlanNetworks.map((n) => n.metadata.name).sort()).toEqual(['blue', 'red']);
  });

  it('lets a chain of moves through in one pass, and refuses a swap (each new VNI is held by the other\'s last good version)', () => {
    const chain = editAfterGood(base(), (d) => {
      net(d, 'blue').spec.vni = 300; // frees 100 ...
      net(d, 'red').spec.vni = 100; // ... which red takes, although red sorts before blue
    });
    expect(messages(chain)).toEqual([]);
    expect([vniOf(chain, 'blue'), vniOf(chain, 'red')]).toEqual([300, 100]);
    const swap = editAfterGood(base(), (d) => {
      net(d, 'blue').spec.vni = 200;
      net(d, 'red').spec.vni = 100;
    });
    expect(messages(swap)).toHaveLength(2);
    expect([vniOf(swap, 'blue'), vniOf(swap, 'red')]).toEqual([100, 200]);
  });

  it('orders objects never seen good by creationTimestamp, else by the order the source first saw them, else by name', () => {
    const two = (tsA?: string, tsB?: string) => {
      const a = netOf('zeta', 'tenant-a', 300), b = netOf('alpha', 'tenant-a', 300);
      if (tsA) a.metadata.creationTimestamp = tsA;
      if (tsB) b.metadata.creationTimestamp = tsB;
      return [...base(), a, b];
    };
    const winner = (r: ReturnType<typeof buildSnapshot>) => r.snapshot.vxlanNetworks.find((n) => n.spec.vni === 300)?.metadata.name;
    expect(winner(buildSnapshot(two('2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z')))).toBe('zeta');
    expect(winner(buildSnapshot(two('2026-02-01T00:00:00Z', '2026-01-01T00:00:00Z')))).toBe('alpha');
    const seen = (first: string, second: string) => new Map([[`VxlanNetwork/tenant-a/${first}`, 1], [`VxlanNetwork/tenant-a/${second}`, 2]]);
    expect(winner(buildSnapshot(two(), new Map(), { firstSeen: seen('zeta', 'alpha') }))).toBe('zeta');
    expect(winner(buildSnapshot(two(), new Map(), { firstSeen: seen('alpha', 'zeta') }))).toBe('alpha');
    expect(winner(buildSnapshot(two()))).toBe('alpha');
  });

  it('keeps an accepted version first over a newcomer the source saw earlier (last good outranks first-seen order)', () => {
    const docs = [...base(), netOf('green', 'tenant-a', 300)];
    const seen = new Map([['VxlanNetwork/tenant-a/late', 0]]);
    const good = buildSnapshot(docs, new Map(), { firstSeen: seen });
    const r = buildSnapshot([...docs, netOf('late', 'tenant-a', 300)], good.lastGood as LastGood, { firstSeen: seen });
    expect(vniOf(r, 'green')).toBe(300);
    expect(messages(r)[0]).toMatch(/^VxlanNetwork tenant-a\/late: spec.vni 300 is already used by VxlanNetwork tenant-a\/green/);
  });

  it('falls back to nothing when the last good version no longer fits (its network was removed)', () => {
    const docs = base();
    const good = buildSnapshot(docs);
    const next = structuredClone(docs).filter((d) => d.metadata.name !== 'blue');
    vm(next, 'a1').spec.domain.devices.interfaces[0].macAddress = '02:00:00:0a:00:77';
    const r = buildSnapshot(next, good.lastGood);
    expect(r.snapshot.vmis.map((v) => v.metadata.name)).toEqual(['b1']);
    expect(messages(r).filter((m) => m.includes('a1'))).toEqual(['VirtualMachineInstance tenant-a/a1: spec.networks[0].multus.networkName tenant-a/blue: no such VxlanNetwork']);
  });
});

describe('objects a tenant writes stay in its tenancy', () => {
  it('refuses a cross-namespace network reference with one message whether or not the network exists', () => {
    const r = buildSnapshot([...base(), vmiOf('b9', 'tenant-b', 'tenant-a/blue', '02:00:00:0b:00:09'), vmiOf('b8', 'tenant-b', 'tenant-a/nothing', '02:00:00:0b:00:08')]);
    expect(messages(r)).toEqual([
      'VirtualMachineInstance tenant-b/b8: spec.networks[0].multus.networkName tenant-a/nothing: no VxlanNetwork this namespace may use',
      'VirtualMachineInstance tenant-b/b9: spec.networks[0].multus.networkName tenant-a/blue: no VxlanNetwork this namespace may use',
    ]);
    expect(r.snapshot.vmis.map((v) => v.metadata.name).sort()).toEqual(['a1', 'a2', 'b1']);
  });

  it('admits a cross-namespace reference the network allows in spec.allowedNamespaces, and same-namespace references always', () => {
    const docs = [...base(), vmiOf('b9', 'tenant-b', 'tenant-a/blue', '02:00:00:0b:00:09'), vmiOf('a9', 'tenant-a', 'blue', '02:00:00:0a:00:09')];
    net(docs, 'blue').spec.allowedNamespaces = ['tenant-b'];
    const r = buildSnapshot(docs);
    expect(messages(r)).toEqual([]);
    expect(r.snapshot.vmis.map((v) => v.metadata.name).sort()).toEqual(['a1', 'a2', 'a9', 'b1', 'b9']);
    expect(r.snapshot.vxlanNetworks.find((n) => n.metadata.name === 'red')?.spec.allowedNamespaces).toEqual([]);
  });

  it('refuses an allocation in a namespace the network does not allow', () => {
    const r = buildSnapshot([...base(), alloc('b1', 'tenant-b', 'tenant-a/blue', '10.10.0.9')]);
    expect(messages(r)).toEqual(['VxlanIPAllocation tenant-b/b1.nic1: spec.network tenant-a/blue: no VxlanNetwork this namespace may use']);
  });

  it.each([
    ['held by another NIC\'s allocation', '10.10.0.2', 'is already allocated to tenant-a/a1 nic1 in VxlanNetwork tenant-a/blue'],
    ['in excludeIPs (an address)', '10.10.0.77', 'is excluded by spec.excludeIPs of VxlanNetwork tenant-a/blue'],
    ['in excludeIPs (a range)', '10.10.0.130', 'is excluded by spec.excludeIPs of VxlanNetwork tenant-a/blue'],
    ['the gateway', '10.10.0.1', 'is the network, broadcast or gateway address of VxlanNetwork tenant-a/blue'],
    ['the network address', '10.10.0.0', 'is the network, broadcast or gateway address of VxlanNetwork tenant-a/blue'],
    ['the broadcast address', '10.10.0.255', 'is the network, broadcast or gateway address of VxlanNetwork tenant-a/blue'],
  ])('refuses a fixed IP %s', (_what, ip, problem) => {
    const docs = [...base(), alloc('a1', 'tenant-a', 'tenant-a/blue', '10.10.0.2'), vmiOf('a9', 'tenant-a', 'blue', '02:00:00:0a:00:09', { 'network.vxmesh.io/ip-address': ip })];
    net(docs, 'blue').spec.excludeIPs = ['10.10.0.77', '10.10.0.128/26'];
    const r = buildSnapshot(docs);
    expect(messages(r)).toEqual([`VirtualMachineInstance tenant-a/a9: metadata.annotations["network.vxmesh.io/ip-address"] ${ip} ${problem}`]);
  });

  it('accepts a free fixed IP, and a fixed IP the NIC\'s own allocation holds', () => {
    const docs = [...base(), alloc('a1', 'tenant-a', 'tenant-a/blue', '10.10.0.2'), vmiOf('a9', 'tenant-a', 'blue', '02:00:00:0a:00:09', { 'network.vxmesh.io/ip-address': '10.10.0.9' })];
    vm(docs, 'a1').metadata.annotations = { 'network.vxmesh.io/ip-address': '10.10.0.2' };
    expect(messages(buildSnapshot(docs))).toEqual([]);
  });

  it('does not name another tenant\'s VM when a fixed IP or MAC is taken in a shared network', () => {
    const docs = [...base(), alloc('a1', 'tenant-a', 'tenant-a/blue', '10.10.0.2'), vmiOf('b9', 'tenant-b', 'tenant-a/blue', '02:00:00:0a:00:01'), vmiOf('b8', 'tenant-b', 'tenant-a/blue', '02:00:00:0b:00:08', { 'network.vxmesh.io/ip-address': '10.10.0.2' })];
    net(docs, 'blue').spec.allowedNamespaces = ['tenant-b'];
    const r = buildSnapshot(docs);
    expect(messages(r)).toEqual([
      'VirtualMachineInstance tenant-b/b8: metadata.annotations["network.vxmesh.io/ip-address"] 10.10.0.2 is already allocated in VxlanNetwork tenant-a/blue',
      'VirtualMachineInstance tenant-b/b9: spec.domain.devices.interfaces[nic1].macAddress 02:00:00:0a:00:01 is already in use in VxlanNetwork tenant-a/blue',
    ]);
  });

  it.each([
    ['a gateway MAC', '02:76:6d:00:00:64', "is in vxmesh's gateway MAC range 02:76:6d:xx:xx:xx"],
    ['another VNI\'s gateway MAC', '02:76:6d:12:34:56', "is in vxmesh's gateway MAC range 02:76:6d:xx:xx:xx"],
    ['a multicast MAC', '01:00:5e:00:00:01', 'is a multicast or broadcast address'],
    ['the broadcast MAC', 'ff:ff:ff:ff:ff:ff', 'is a multicast or broadcast address'],
    ['the all-zero MAC', '00:00:00:00:00:00', 'is the all-zero address'],
  ])('refuses %s', (_what, mac, problem) => {
    const r = buildSnapshot([...base(), vmiOf('a9', 'tenant-a', 'blue', mac)]);
    expect(messages(r)).toEqual([`VirtualMachineInstance tenant-a/a9: spec.domain.devices.interfaces[nic1].macAddress ${mac} ${problem}`]);
  });

  it('accepts ordinary unicast MACs next to the refused ones (02:76:6e:…, 00:…)', () => {
    expect(messages(buildSnapshot([...base(), vmiOf('a9', 'tenant-a', 'blue', '02:76:6e:00:00:64'), vmiOf('a8', 'tenant-a', 'blue', '00:16:3e:00:00:01')]))).toEqual([]);
  });

  it('keeps VNIs unique across cluster networks, naming the holder only within its namespace', () => {
    const docs = [...base(), { apiVersion: 'network.harvesterhci.io/v1beta1', kind: 'ClusterNetwork', metadata: { name: 'other' } }];
    const elsewhere = (name: string, ns: string) => ({ ...netOf(name, ns, 100), spec: { ...netOf(name, ns, 100).spec, clusterNetwork: 'other' } });
    const r = buildSnapshot([...docs, elsewhere('x', 'tenant-b'), elsewhere('y', 'tenant-a')]);
    expect(messages(r)).toEqual([
      'VxlanNetwork tenant-a/y: spec.vni 100 is already used by VxlanNetwork tenant-a/blue (VNIs are unique across the cluster: a node keys its bridges, routers and BPF maps by VNI alone)',
      'VxlanNetwork tenant-b/x: spec.vni 100 is already in use (VNIs are unique across the cluster: a node keys its bridges, routers and BPF maps by VNI alone)',
    ]);
  });

  it('limits VxlanNetworks per namespace (VxlanConfig spec.networksPerNamespace), rejecting the newest beyond it', () => {
    const docs = [...base(), netOf('n2', 'tenant-a', 302), netOf('n3', 'tenant-a', 303), netOf('m2', 'tenant-b', 402)];
    find(docs, 'VxlanConfig', 'overlay-all').spec.networksPerNamespace = 2;
    for (const [i, d] of docs.filter((x) => x.kind === 'VxlanNetwork').entries()) d.metadata.creationTimestamp = `2026-01-0${i + 1}T00:00:00Z`;
    const r = buildSnapshot(docs);
    expect(messages(r)).toEqual(['VxlanNetwork tenant-a/n3: metadata.namespace tenant-a already has 2 VxlanNetworks on cluster network overlay, the most its VxlanConfig allows (spec.networksPerNamespace 2)']);
    expect(r.snapshot.vxlanNetworks.map((n) => n.metadata.name).sort()).toEqual(['blue', 'm2', 'n2', 'red']);
    // An edit of an accepted network does not count twice against the limit.
    const edited = editAfterGood(docs.filter((d) => d.metadata.name !== 'n3'), (d) => (net(d, 'n2').spec.vni = 333));
    expect(messages(edited)).toEqual([]);
  });

  it('defaults the limit to 16 networks per namespace', () => {
    const many = Array.from({ length: 16 }, (_, i) => netOf(`n${String(i).padStart(2, '0')}`, 'tenant-a', 1000 + i));
    const r = buildSnapshot([...base(), ...many]);
    expect(messages(r)).toEqual(['VxlanNetwork tenant-a/n15: metadata.namespace tenant-a already has 16 VxlanNetworks on cluster network overlay, the most its VxlanConfig allows (spec.networksPerNamespace 16)']);
  });

  it('refuses a VxlanStatus whose status.node is not the node it is named after', () => {
    const docs = base();
    find(docs, 'VxlanStatus', 'overlay.node3').status.node = 'node1';
    const r = buildSnapshot(docs);
    expect(messages(r)).toEqual(['VxlanStatus overlay.node3: status.node node1 (cluster network overlay) does not match the object\'s name: a VxlanStatus of that node is named overlay.node1']);
    expect(r.snapshot.statuses.map((s) => s.status.vtepIP)).toEqual(['198.18.0.11', '198.18.0.12']);
  });
});
