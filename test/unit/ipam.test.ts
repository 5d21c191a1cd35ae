import { describe, expect, it } from 'vitest';
import { allocate } from '../../src/ipam/allocate.js';
import type { VirtualMachineInstance } from '../../src/model/schema.js';
import { fixtureDocs, snapshotOf } from '../helpers/fixtures.js';

const base = () => snapshotOf(fixtureDocs('two-tenants.yaml')).snapshot;
const ipOf = (allocs: ReturnType<typeof allocate>['allocations'], vm: string) => allocs.find((a) => a.spec.vm === vm)?.spec.ip;

function vmi(name: string, ns: string, network: string, mac: string, node = 'node1', annotations?: Record<string, string>): VirtualMachineInstance {
  return {
    apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance',
    metadata: { name, namespace: ns, ...(annotations ? { annotations } : {}) },
    spec: { domain: { devices: { interfaces: [{ name: 'nic1', macAddress: mac }] } }, networks: [{ name: 'nic1', multus: { networkName: network } }] },
    status: { nodeName: node },
  };
}

describe('IPAM', () => {
  it('gives new NICs the lowest free address after the gateway, and honours fixed-IP annotations', () => {
    const { allocations, errors } = allocate(base());
    expect(errors).toEqual([]);
    expect(ipOf(allocations, 'a1')).toBe('10.10.0.2');
    expect(ipOf(allocations, 'a2')).toBe('10.10.0.3');
    expect(ipOf(allocations, 'b1')).toBe('10.10.0.50');
    expect(allocations.find((a) => a.spec.vm === 'a1')?.metadata).toMatchObject({ name: 'a1.nic1', namespace: 'tenant-a' });
  });

  it('keeps every address across migration (node change) and across re-allocation from stored objects', () => {
    const s = base();
    const first = allocate(s).allocations;
    s.allocations = first;
    s.vmis.find((v) => v.metadata.name === 'a1')!.status.nodeName = 'node3';
    s.vmis.push(vmi('a0', 'tenant-a', 'tenant-a/blue', '02:00:00:0a:00:00'));
    const second = allocate(s).allocations;
    expect(ipOf(second, 'a1')).toBe(ipOf(first, 'a1'));
    expect(ipOf(second, 'a2')).toBe(ipOf(first, 'a2'));
    expect(ipOf(second, 'a0')).toBe('10.10.0.4');
  });

  it('releases the address of a deleted VM and reuses it for the next new VM', () => {
    const s = base();
    s.allocations = allocate(s).allocations;
    s.vmis = s.vmis.filter((v) => v.metadata.name !== 'a1');
    const after = allocate(s).allocations;
    expect(ipOf(after, 'a1')).toBeUndefined();
    s.allocations = after;
    s.vmis.push(vmi('a9', 'tenant-a', 'tenant-a/blue', '02:00:00:0a:00:09'));
    expect(ipOf(allocate(s).allocations, 'a9')).toBe('10.10.0.2');
  });

  it('hands out distinct addresses to 200 VMs and reports exhaustion naming the network', () => {
    const s = base();
    for (let i = 0; i < 260; i++) s.vmis.push(vmi(`bulk${i}`, 'tenant-a', 'tenant-a/blue', `02:aa:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`));
    const { allocations, errors } = allocate(s);
    const blue = allocations.filter((a) => a.spec.network === 'tenant-a/blue').map((a) => a.spec.ip);
    expect(new Set(blue).size).toBe(blue.length);
    expect(blue.length).toBe(253); // 254 hosts minus the gateway
    expect(errors[0]?.message).toMatch(/VxlanNetwork tenant-a\/blue: spec.cidr 10.10.0.0\/24 is exhausted/);
  });

  it('never hands out excluded addresses or the gateway', () => {
    const s = base();
    s.vxlanNetworks[0]!.spec.excludeIPs = ['10.10.0.2', '10.10.0.3/32'];
    const { allocations } = allocate(s);
    expect(ipOf(allocations, 'a1')).toBe('10.10.0.4');
    expect(allocations.map((a) => a.spec.ip)).not.toContain('10.10.0.1');
  });

  it('never renumbers an address holder to satisfy a fixed-IP request for its address (the request is refused)', () => {
    const s = base();
    s.allocations = allocate(s).allocations; // a1 holds 10.10.0.2
    s.vmis.push(vmi('a9', 'tenant-a', 'tenant-a/blue', '02:00:00:0a:00:09', 'node1', { 'network.vxmesh.io/ip-address': '10.10.0.2' }));
    const { allocations, errors } = allocate(s);
    expect(ipOf(allocations, 'a1')).toBe('10.10.0.2');
    expect(ipOf(allocations, 'a9')).toBeUndefined();
    expect(errors.map((e) => e.message)).toEqual(['VirtualMachineInstance tenant-a/a9: metadata.annotations["network.vxmesh.io/ip-address"] 10.10.0.2 is already allocated in VxlanNetwork tenant-a/blue']);
  });

  it('moves a NIC to a free fixed IP it asks for, and keeps its address when the fixed IP it asks for is taken or excluded', () => {
    const s = base();
    s.allocations = allocate(s).allocations; // a1 .2, a2 .3
    s.vxlanNetworks[0]!.spec.excludeIPs = ['10.10.0.99'];
    const a1 = s.vmis.find((v) => v.metadata.name === 'a1')!;
    a1.metadata.annotations = { 'network.vxmesh.io/ip-address': '10.10.0.40' };
    expect(ipOf(allocate(s).allocations, 'a1')).toBe('10.10.0.40');
    for (const ip of ['10.10.0.3', '10.10.0.99', '10.10.0.1']) {
      a1.metadata.annotations = { 'network.vxmesh.io/ip-address': ip };
      const r = allocate(s);
      expect([ipOf(r.allocations, 'a1'), ipOf(r.allocations, 'a2')]).toEqual(['10.10.0.2', '10.10.0.3']);
      expect(r.errors).toHaveLength(1);
    }
  });

  it('reports exhaustion without naming a VM of another namespace', () => {
    const s = base();
    const blue = s.vxlanNetworks.find((n) => n.metadata.name === 'blue')!;
    blue.spec.cidr = '10.10.0.0/30'; // one usable address besides the gateway
    blue.spec.allowedNamespaces = ['tenant-b'];
    s.vmis = [vmi('a1', 'tenant-a', 'tenant-a/blue', '02:00:00:0a:00:01'), vmi('zz', 'tenant-b', 'tenant-a/blue', '02:00:00:0b:00:99')];
    expect(allocate(s).errors.map((e) => e.message)).toEqual(['VxlanNetwork tenant-a/blue: spec.cidr 10.10.0.0/30 is exhausted: no address left for a VM of another namespace']);
  });
});
