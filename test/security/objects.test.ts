/**
 * Red team, tenant API user (issue 18): what a tenant writes must never reach another tenant. Each attack
 * is an object a tenant may write (a VMI in its own namespace, a network of its own), taken through the
 * same validation every agent and the controller run (buildSnapshot) and the controller's IPAM plan; each
 * stands next to a positive control that shows the same object passing when it is legitimate.
 * Lab-level checks of the same precedence rules run in test/e2e/conflicting-edits.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { planIpam } from '../../src/controller/ipam.js';
import { gatewayMac } from '../../src/dataplane/names.js';
import type { KObject } from '../../src/k8s/client.js';
import { buildSnapshot } from '../../src/sources/validate.js';
import { fixtureDocs } from '../helpers/fixtures.js';

type Doc = Record<string, any>;
const base = (): Doc[] => structuredClone(fixtureDocs('two-tenants.yaml')) as Doc[];
const vmi = (name: string, ns: string, network: string, mac: string, ip?: string): Doc => ({
  apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance',
  metadata: { name, namespace: ns, ...(ip ? { annotations: { 'network.vxmesh.io/ip-address': ip } } : {}) },
  spec: { domain: { devices: { interfaces: [{ name: 'nic1', macAddress: mac }] } }, networks: [{ name: 'nic1', multus: { networkName: network } }] },
  status: { nodeName: 'node1' },
});
const alloc = (vm: string, ns: string, network: string, ip: string): Doc => ({
  apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanIPAllocation',
  metadata: { name: `${vm}.nic1`, namespace: ns }, spec: { network, vm, interface: 'nic1', ip },
});
const admitted = (docs: Doc[], name: string) => buildSnapshot(docs).snapshot.vmis.some((v) => v.metadata.name === name);
const errorsOf = (docs: Doc[]) => buildSnapshot(docs).errors.map((e) => e.message);

describe('tenant API user: joining another tenant\'s network', () => {
  it('a tenant-b VMI naming tenant-a/blue is refused; the same VMI in tenant-a joins (positive control)', () => {
    expect(admitted([...base(), vmi('evil', 'tenant-b', 'tenant-a/blue', '02:00:00:0b:00:66')], 'evil')).toBe(false);
    expect(admitted([...base(), vmi('good', 'tenant-a', 'tenant-a/blue', '02:00:00:0a:00:66')], 'good')).toBe(true);
  });

  it('the refusal does not tell whether the network exists', () => {
    const exists = errorsOf([...base(), vmi('evil', 'tenant-b', 'tenant-a/blue', '02:00:00:0b:00:66')]);
    const missing = errorsOf([...base(), vmi('evil', 'tenant-b', 'tenant-a/nosuch', '02:00:00:0b:00:66')]);
    expect(exists.map((m) => m.replace('blue', 'X'))).toEqual(missing.map((m) => m.replace('nosuch', 'X')));
  });

  it('a network that lists the namespace in spec.allowedNamespaces admits it, and no other namespace', () => {
    const docs = [...base(), vmi('shared', 'tenant-b', 'tenant-a/blue', '02:00:00:0b:00:66'), vmi('other', 'tenant-c', 'tenant-a/blue', '02:00:00:0c:00:66')];
    docs.find((d) => d.metadata.name === 'blue')!.spec.allowedNamespaces = ['tenant-b'];
    expect(admitted(docs, 'shared')).toBe(true);
    expect(admitted(docs, 'other')).toBe(false);
  });

  it('a tenant cannot let itself into another tenant\'s network by naming its own namespace elsewhere', () => {
    // tenant-b's own network allowing tenant-b changes nothing for tenant-a/blue.
    const docs = [...base(), vmi('evil', 'tenant-b', 'tenant-a/blue', '02:00:00:0b:00:66')];
    docs.find((d) => d.metadata.name === 'red')!.spec.allowedNamespaces = ['tenant-a', 'tenant-b'];
    expect(admitted(docs, 'evil')).toBe(false);
  });
});

describe('tenant API user: stealing an address', () => {
  const withHolder = () => [...base(), alloc('a1', 'tenant-a', 'tenant-a/blue', '10.10.0.2'), alloc('a2', 'tenant-a', 'tenant-a/blue', '10.10.0.3')];

  it('a fixed IP another VM holds is refused, and the controller leaves the holder\'s address alone; a free fixed IP is granted (positive control)', () => {
    const steal = [...withHolder(), vmi('thief', 'tenant-a', 'blue', '02:00:00:0a:00:66', '10.10.0.2')];
    const built = buildSnapshot(steal);
    expect(built.snapshot.vmis.some((v) => v.metadata.name === 'thief')).toBe(false);
    const raw = (d: Doc[]) => d.filter((x) => x.kind === 'VxlanIPAllocation') as unknown as KObject[];
    const plan = planIpam({ snapshot: built.snapshot, allocations: raw(steal), claims: [], vmis: steal.filter((x) => x.kind === 'VirtualMachineInstance') as unknown as KObject[], vms: [], networkKeys: new Set(['tenant-a/blue', 'tenant-b/red']), now: 0, claimGraceMs: 30_000 });
    // Writes may only fill in details (the MAC) of the holders' own allocations, never move an address.
    expect(plan.writes.map((w) => [w.allocation.spec.vm, w.allocation.spec.ip]).sort()).toEqual([['a1', '10.10.0.2'], ['a2', '10.10.0.3'], ['b1', '10.10.0.50']]);
    expect(plan.deletes).toEqual([]);

    const fair = [...withHolder(), vmi('tenant', 'tenant-a', 'blue', '02:00:00:0a:00:66', '10.10.0.9')];
    const ok = buildSnapshot(fair);
    expect(ok.snapshot.vmis.some((v) => v.metadata.name === 'tenant')).toBe(true);
    const granted = planIpam({ snapshot: ok.snapshot, allocations: raw(fair), claims: [], vmis: fair.filter((x) => x.kind === 'VirtualMachineInstance') as unknown as KObject[], vms: [], networkKeys: new Set(['tenant-a/blue', 'tenant-b/red']), now: 0, claimGraceMs: 30_000 });
    expect(granted.writes.map((w) => [w.allocation.spec.vm, w.allocation.spec.ip])).toContainEqual(['tenant', '10.10.0.9']);
    expect(granted.writes.filter((w) => ['10.10.0.2', '10.10.0.3'].includes(w.allocation.spec.ip)).map((w) => w.allocation.spec.vm).sort()).toEqual(['a1', 'a2']);
  });

  it('the gateway address and excluded addresses are refused as fixed IPs; an ordinary one is not', () => {
    const docs = (ip: string) => {
      const d = [...base(), vmi('x', 'tenant-a', 'blue', '02:00:00:0a:00:66', ip)];
      d.find((n) => n.metadata.name === 'blue')!.spec.excludeIPs = ['10.10.0.200/29'];
      return d;
    };
    expect(admitted(docs('10.10.0.1'), 'x')).toBe(false);
    expect(admitted(docs('10.10.0.203'), 'x')).toBe(false);
    expect(admitted(docs('10.10.0.199'), 'x')).toBe(true);
  });
});

describe('tenant API user: being the gateway, or everyone', () => {
  it('the network\'s gateway MAC, a multicast and the zero MAC are refused; an ordinary MAC is accepted (positive control)', () => {
    for (const mac of [gatewayMac(100), gatewayMac(200), '01:00:5e:7f:ff:fa', 'ff:ff:ff:ff:ff:ff', '00:00:00:00:00:00'])
      expect(admitted([...base(), vmi('evil', 'tenant-a', 'blue', mac)], 'evil'), mac).toBe(false);
    expect(admitted([...base(), vmi('good', 'tenant-a', 'blue', '02:00:00:0a:00:66')], 'good')).toBe(true);
  });
});

describe('tenant API user: sharing another tenant\'s L2 domain through a VNI', () => {
  it('a network on another cluster network with tenant-b\'s VNI is refused without naming tenant-b\'s network; a free VNI is accepted', () => {
    const cn = { apiVersion: 'network.harvesterhci.io/v1beta1', kind: 'ClusterNetwork', metadata: { name: 'other' } };
    const mine = (vni: number) => ({ apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanNetwork', metadata: { name: 'mine', namespace: 'tenant-a' }, spec: { clusterNetwork: 'other', vni, cidr: '10.60.0.0/24' } });
    const running = buildSnapshot([...base(), cn]);
    const r = buildSnapshot([...base(), cn, mine(200)], running.lastGood);
    expect(r.snapshot.vxlanNetworks.map((n) => n.metadata.name).sort()).toEqual(['blue', 'red']);
    expect(r.errors.map((e) => e.message).join('\n')).not.toMatch(/tenant-b|red/);
    expect(buildSnapshot([...base(), cn, mine(201)]).snapshot.vxlanNetworks.map((n) => n.metadata.name).sort()).toEqual(['blue', 'mine', 'red']);
  });

  it('a tenant editing its network to another tenant\'s VNI takes nothing from it: the other network stays, the edit is refused', () => {
    const docs = base();
    const good = buildSnapshot(docs);
    const next = structuredClone(docs);
    next.find((d) => d.metadata.name === 'blue')!.spec.vni = 200;
    const r = buildSnapshot(next, good.lastGood);
    expect(r.snapshot.vxlanNetworks.map((n) => [n.metadata.name, n.spec.vni])).toEqual([['blue', 100], ['red', 200]]);
    expect(r.errors.map((e) => e.message)).toEqual([expect.stringMatching(/^VxlanNetwork tenant-a\/blue: spec\.vni 200 is already in use \(/)]);
  });
});

describe('fair share: networks per namespace', () => {
  it('a namespace cannot create more networks than its VxlanConfig allows; another namespace still can', () => {
    const docs = base();
    docs.find((d) => d.kind === 'VxlanConfig')!.spec.networksPerNamespace = 1;
    const extra = (name: string, ns: string, vni: number) => ({ apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanNetwork', metadata: { name, namespace: ns }, spec: { clusterNetwork: 'overlay', vni, cidr: '10.60.0.0/24' } });
    const r = buildSnapshot([...docs, extra('flood', 'tenant-a', 900), extra('first', 'tenant-c', 901)]);
    expect(r.snapshot.vxlanNetworks.map((n) => n.metadata.name).sort()).toEqual(['blue', 'first', 'red']);
  });
});
