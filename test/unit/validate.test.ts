import { describe, expect, it } from 'vitest';
import { buildSnapshot, parseDocuments } from '../../src/sources/validate.js';
import { docsOf, fixtureDocs } from '../helpers/fixtures.js';

const net = (name: string, ns: string, vni: number, cidr: string, extra = '') => `
apiVersion: network.vxmesh.io/v1alpha1
kind: VxlanNetwork
metadata: { name: ${name}, namespace: ${ns} }
spec: { clusterNetwork: overlay, vni: ${vni}, cidr: ${cidr} ${extra} }`;

const vmi = (name: string, network: string, mac: string, annotations = '') => `
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: { name: ${name}, namespace: tenant-a ${annotations} }
spec:
  domain: { devices: { interfaces: [{ name: nic1, macAddress: "${mac}" }] } }
  networks: [{ name: nic1, multus: { networkName: ${network} } }]
status: { nodeName: node1 }`;

function withExtra(...extra: string[]) {
  return [...fixtureDocs('two-tenants.yaml'), ...docsOf(extra.join('\n---\n'))];
}

describe('validation at the source boundary', () => {
  it('accepts the fixture as a whole', () => {
    const r = buildSnapshot(fixtureDocs('two-tenants.yaml'));
    expect(r.errors).toEqual([]);
    expect(r.snapshot.vxlanNetworks.map((n) => n.spec.vni)).toEqual([100, 200]);
    expect(r.snapshot.vxlanNetworks[0]!.spec.natOutgoing).toBe(true);
  });

  it.each([
    ['VNI out of range', net('x', 'tenant-c', 0, '10.20.0.0/24'), 'VxlanNetwork tenant-c/x: spec.vni'],
    ['VNI above 24 bits', net('x', 'tenant-c', 16777216, '10.20.0.0/24'), 'VxlanNetwork tenant-c/x: spec.vni'],
    ['duplicate VNI', net('green', 'tenant-c', 100, '10.30.0.0/24'), 'VxlanNetwork tenant-c/green: spec.vni 100 is already in use (VNIs are unique across the cluster'],
    ['gateway outside the CIDR', net('x', 'tenant-c', 300, '10.30.0.0/24', ', gateway: 10.31.0.1'), 'VxlanNetwork tenant-c/x: spec.gateway 10.31.0.1 is not inside spec.cidr 10.30.0.0/24'],
    ['CIDR with host bits', net('x', 'tenant-c', 300, '10.30.0.7/24'), 'VxlanNetwork tenant-c/x: spec.cidr 10.30.0.7/24 has host bits set'],
    ['unknown cluster network', net('x', 'tenant-c', 300, '10.30.0.0/24').replace('clusterNetwork: overlay', 'clusterNetwork: nowhere'), 'VxlanNetwork tenant-c/x: spec.clusterNetwork nowhere: no such ClusterNetwork'],
    ['duplicate MAC', vmi('a3', 'tenant-a/blue', '02:00:00:0a:00:01'), 'VirtualMachineInstance tenant-a/a3: spec.domain.devices.interfaces[nic1].macAddress 02:00:00:0a:00:01 is already in use by tenant-a/a1 nic1 in VxlanNetwork tenant-a/blue'],
    ['unknown network', vmi('a3', 'tenant-a/purple', '02:00:00:0a:00:33'), 'VirtualMachineInstance tenant-a/a3: spec.networks[0].multus.networkName tenant-a/purple: no such VxlanNetwork'],
    ['fixed IP outside the CIDR', vmi('a3', 'blue', '02:00:00:0a:00:33', ', annotations: { network.vxmesh.io/ip-address: 10.99.0.5 }'), 'VirtualMachineInstance tenant-a/a3: metadata.annotations["network.vxmesh.io/ip-address"] 10.99.0.5 is not inside 10.10.0.0/24'],
    ['bad MAC', vmi('a3', 'blue', '02:00:zz:0a:00:33'), 'VirtualMachineInstance tenant-a/a3: spec.domain.devices.interfaces[0].macAddress must be a MAC address'],
  ])('rejects %s with a message naming the object and field, keeping everything else', (_what, extra, message) => {
    const r = buildSnapshot(withExtra(extra));
    expect(r.errors.map((e) => e.message)).toEqual([expect.stringContaining(message)]);
    expect(r.snapshot.vxlanNetworks.map((n) => n.metadata.name).sort()).toEqual(['blue', 'red']);
    expect(r.snapshot.vmis.map((v) => v.metadata.name).sort()).toEqual(['a1', 'a2', 'b1']);
  });

  it('rejects a second VM asking for the same fixed IP, keeping the first', () => {
    const ann = ', annotations: { network.vxmesh.io/ip-address: 10.10.0.60 }';
    const r = buildSnapshot(withExtra(vmi('a3', 'blue', '02:00:00:0a:00:33', ann), vmi('a4', 'blue', '02:00:00:0a:00:34', ann)));
    expect(r.errors.map((e) => e.message)).toEqual([expect.stringContaining('VirtualMachineInstance tenant-a/a4: metadata.annotations["network.vxmesh.io/ip-address"] 10.10.0.60 is already requested by tenant-a/a3')]);
  });

  it('rejects a VxlanConfig on mgmt', () => {
    const r = buildSnapshot(withExtra(`
apiVersion: network.vxmesh.io/v1alpha1
kind: VxlanConfig
metadata: { name: on-mgmt }
spec: { clusterNetwork: mgmt, uplink: { nics: [eth0] } }`));
    expect(r.errors[0]?.message).toBe('VxlanConfig on-mgmt: spec.clusterNetwork mgmt is built in and takes no VxlanConfig');
  });

  it('keeps serving the last good version of an object whose update is invalid', () => {
    const good = buildSnapshot(fixtureDocs('two-tenants.yaml'));
    const docs = fixtureDocs('two-tenants.yaml') as any[];
    docs.find((d) => d.metadata?.name === 'red').spec.vni = 100; // now clashes with blue
    const r = buildSnapshot(docs, good.lastGood);
    expect(r.errors[0]?.message).toContain('VxlanNetwork tenant-b/red: spec.vni 100 is already in use');
    expect(r.snapshot.vxlanNetworks.find((n) => n.metadata.name === 'red')?.spec.vni).toBe(200);
  });

  it('reports malformed YAML with its origin and returns no documents', () => {
    const r = parseDocuments('kind: VxlanNetwork\nmetadata: { name: x\n', 'lab.yaml');
    expect(r.docs).toEqual([]);
    expect(r.errors[0]?.message).toMatch(/^lab.yaml: malformed YAML/);
  });

  it('ignores kinds it does not own (e.g. NetworkAttachmentDefinitions) and lets VMs use those networks', () => {
    const r = buildSnapshot(withExtra(`
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata: { name: vlan10, namespace: tenant-a }
spec: { config: '{}' }`, vmi('a3', 'tenant-a/vlan10', '02:00:00:0a:00:33')));
    expect(r.errors).toEqual([]);
    expect(r.snapshot.vmis.map((v) => v.metadata.name)).toContain('a3');
  });
});
