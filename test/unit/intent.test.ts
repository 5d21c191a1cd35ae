import { describe, expect, it } from 'vitest';
import { computeIntent } from '../../src/intent/compute.js';
import { migrationTarget } from '../../src/model/vmi.js';
import { allocate } from '../../src/ipam/allocate.js';
import { fixtureDocs, snapshotOf } from '../helpers/fixtures.js';

function allocated() {
  const s = snapshotOf(fixtureDocs('two-tenants.yaml')).snapshot;
  s.allocations = allocate(s).allocations;
  return s;
}

describe('computeIntent', () => {
  it('builds the full mesh: every other member VTEP is a peer of every network', () => {
    const intent = computeIntent(allocated(), 'node1');
    expect(intent.clusterNetworks).toHaveLength(1);
    const cn = intent.clusterNetworks[0]!;
    expect(cn).toMatchObject({ name: 'overlay', uplink: 'vxmu0', localVtep: '198.18.0.11', port: 4789, peers: ['198.18.0.12', '198.18.0.13'] });
    expect(cn.peerNodes).toEqual({ '198.18.0.12': 'node2', '198.18.0.13': 'node3' }); // the peer probe's labels
    expect(cn.networks.map((n) => n.vni)).toEqual([100, 200]);
  });

  it('derives gateway, gateway MAC and MTU the same way on every node', () => {
    const n1 = computeIntent(allocated(), 'node1').clusterNetworks[0]!.networks;
    const n3 = computeIntent(allocated(), 'node3').clusterNetworks[0]!.networks;
    expect(n1[0]).toMatchObject({ key: 'tenant-a/blue', gateway: '10.10.0.1', gatewayMac: '02:76:6d:00:00:64', mtu: 1450, natOutgoing: true, prefixLen: 24 });
    expect(n1[1]).toMatchObject({ key: 'tenant-b/red', gatewayMac: '02:76:6d:00:00:c8', mtu: 1400, natOutgoing: false });
    expect(n3.map(({ endpoints, ...rest }) => rest)).toEqual(n1.map(({ endpoints, ...rest }) => rest));
  });

  it('marks endpoints local on their own node and remote (with the VTEP) elsewhere', () => {
    const blueOn = (node: string) => computeIntent(allocated(), node).clusterNetworks[0]!.networks[0]!.endpoints;
    expect(blueOn('node1')).toEqual([
      { vm: 'tenant-a/a1', iface: 'nic1', mac: '02:00:00:0a:00:01', ip: '10.10.0.2', node: 'node1', vtep: '198.18.0.11', local: true },
      { vm: 'tenant-a/a2', iface: 'nic1', mac: '02:00:00:0a:00:02', ip: '10.10.0.3', node: 'node2', vtep: '198.18.0.12', local: false },
    ]);
    expect(blueOn('node2').map((e) => e.local)).toEqual([false, true]);
  });

  it('moves an endpoint to the new VTEP when the VMI status names another node (migration)', () => {
    const s = allocated();
    s.vmis.find((v) => v.metadata.name === 'a1')!.status.nodeName = 'node3';
    const e = computeIntent(s, 'node2').clusterNetworks[0]!.networks[0]!.endpoints.find((x) => x.vm === 'tenant-a/a1')!;
    expect(e).toMatchObject({ ip: '10.10.0.2', node: 'node3', vtep: '198.18.0.13', local: false });
  });

  describe('during a live migration (KubeVirt status.migrationState)', () => {
    /** a1 (node1) migrating to `target`, with the given migrationState flags. */
    const migrating = (target: string, state: Record<string, unknown> = {}) => {
      const s = allocated();
      s.vmis.find((v) => v.metadata.name === 'a1')!.status.migrationState = { sourceNode: 'node1', targetNode: target, ...state };
      return s;
    };
    const a1On = (s: ReturnType<typeof allocated>, node: string) =>
      computeIntent(s, node).clusterNetworks[0]!.networks[0]!.endpoints.find((x) => x.vm === 'tenant-a/a1')!;

    it('marks the endpoint arriving on the target, still remote behind the source VTEP', () => {
      expect(a1On(migrating('node3'), 'node3')).toEqual({
        vm: 'tenant-a/a1', iface: 'nic1', mac: '02:00:00:0a:00:01', ip: '10.10.0.2', node: 'node1', vtep: '198.18.0.11', local: false,
        migratingTo: { node: 'node3', vtep: '198.18.0.13' }, arriving: true,
      });
    });

    it('keeps it local on the source and remote elsewhere, both naming the target', () => {
      const s = migrating('node3');
      expect(a1On(s, 'node1')).toMatchObject({ node: 'node1', local: true, migratingTo: { node: 'node3', vtep: '198.18.0.13' } });
      expect(a1On(s, 'node1').arriving).toBeUndefined();
      expect(a1On(s, 'node2')).toMatchObject({ vtep: '198.18.0.11', local: false, migratingTo: { node: 'node3', vtep: '198.18.0.13' } });
      expect(a1On(s, 'node2').arriving).toBeUndefined();
    });

    it('is over once KubeVirt reports it completed or failed', () => {
      for (const state of [{ completed: true }, { failed: true }]) {
        for (const node of ['node1', 'node2', 'node3']) {
          const e = a1On(migrating('node3', state), node);
          expect(e.migratingTo, `${JSON.stringify(state)} on ${node}`).toBeUndefined();
          expect(e.arriving).toBeUndefined();
        }
      }
      const done = migrating('node3', { completed: true });
      done.vmis.find((v) => v.metadata.name === 'a1')!.status.nodeName = 'node3';
      expect(a1On(done, 'node3')).toMatchObject({ node: 'node3', local: true });
    });

    it('ignores a target that is not a member node (no VTEP to move to) or is the node it runs on already', () => {
      expect(a1On(migrating('node9'), 'node2').migratingTo).toBeUndefined();
      expect(a1On(migrating('node1'), 'node1').migratingTo).toBeUndefined();
    });

    it('reads the target from the VMI only while the migration is in progress', () => {
      const vmi = allocated().vmis.find((v) => v.metadata.name === 'a1')!;
      expect(migrationTarget(vmi)).toBeUndefined();
      vmi.status.migrationState = { sourceNode: 'node1', targetNode: 'node2' };
      expect(migrationTarget(vmi)).toBe('node2');
      vmi.status.migrationState = { sourceNode: 'node1', targetNode: 'node2', completed: true };
      expect(migrationTarget(vmi)).toBeUndefined();
      vmi.status.migrationState = { sourceNode: 'node1', targetNode: 'node2', failed: true };
      expect(migrationTarget(vmi)).toBeUndefined();
    });
  });

  it('leaves out a node that is not selected or has no VTEP address yet', () => {
    const s = allocated();
    s.statuses = s.statuses.filter((x) => x.status.node !== 'node3');
    expect(computeIntent(s, 'node3').clusterNetworks).toEqual([]);
    expect(computeIntent(s, 'node1').clusterNetworks[0]!.peers).toEqual(['198.18.0.12']);
    s.vxlanConfigs[0]!.spec.nodeSelector = { matchLabels: { 'vxmesh.io/overlay': 'true' } };
    s.nodes = [{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node1', labels: { 'vxmesh.io/overlay': 'true' } } }];
    const i1 = computeIntent(s, 'node1');
    expect(i1.clusterNetworks[0]!.peers).toEqual([]);
    expect(i1.clusterNetworks[0]!.networks[0]!.endpoints.map((e) => e.vm)).toEqual(['tenant-a/a1']);
  });

  it('lists every known VTEP and port, of cluster networks this node is not a member of too (the gateway guard)', () => {
    const s = allocated();
    const edge = structuredClone(s.vxlanConfigs[0]!);
    edge.metadata.name = 'edge';
    edge.spec = { ...edge.spec, clusterNetwork: 'edge', port: 4790, nodeSelector: { matchLabels: { edge: 'yes' } }, vtep: { ...edge.spec.vtep, addressFrom: 'static', addresses: { node9: '198.19.0.9' } } };
    s.vxlanConfigs.push(edge);
    s.nodes.push({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node9', labels: { edge: 'yes' } } });
    const i = computeIntent(s, 'node1');
    expect(i.clusterNetworks.map((cn) => cn.name)).toEqual(['overlay']);
    expect(i.underlay).toEqual({ vteps: ['198.18.0.11', '198.18.0.12', '198.18.0.13', '198.19.0.9'], ports: [4789, 4790] });
  });

  it('uses the VTEP the agent observed locally over a stale published one', () => {
    const i = computeIntent(allocated(), 'node1', { vteps: { overlay: '198.18.0.99' } });
    expect(i.clusterNetworks[0]!.localVtep).toBe('198.18.0.99');
  });

  it('is deterministic: the same snapshot gives an identical intent', () => {
    expect(JSON.stringify(computeIntent(allocated(), 'node2'))).toBe(JSON.stringify(computeIntent(allocated(), 'node2')));
  });
});
