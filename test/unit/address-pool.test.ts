import { describe, expect, it } from 'vitest';
import { addressPools } from '../../src/metrics/address-pool.js';
import { agentMetrics } from '../../src/metrics/agent.js';

const net = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanNetwork', metadata: { name, namespace: 'tenant-a' }, spec: { clusterNetwork: 'overlay', vni: 100, ...spec },
});
const alloc = (network: string, ip: string) => ({ metadata: { name: ip, namespace: 'tenant-a' }, spec: { network, vm: 'vm', interface: 'nic1', ip } });

describe('addressPools', () => {
  it('counts usable addresses (hosts minus gateway and excludeIPs) and the distinct ones held', () => {
    const pools = addressPools(
      [net('blue', { cidr: '10.0.0.0/24' }), net('small', { cidr: '10.1.0.0/29', excludeIPs: ['10.1.0.6'] })],
      [alloc('tenant-a/blue', '10.0.0.2'), alloc('tenant-a/blue', '10.0.0.2'), alloc('tenant-a/blue', '10.0.0.3'), alloc('tenant-a/small', '10.1.0.2'), alloc('tenant-a/other', '10.9.0.2')],
    );
    expect(pools).toEqual([
      { network: 'tenant-a/blue', used: 2, available: 251 }, // 254 hosts - gateway .1 = 253
      { network: 'tenant-a/small', used: 1, available: 3 }, // 6 hosts - gateway - excluded = 4
    ]);
  });

  it('leaves out a network whose spec does not validate, and does not count an address outside the pool', () => {
    expect(addressPools([net('bad', { cidr: 'nope' })], [])).toEqual([]);
    expect(addressPools([net('blue', { cidr: '10.0.0.0/30' })], [alloc('tenant-a/blue', '10.0.0.1'), alloc('tenant-a/blue', '10.0.0.2')])).toEqual([{ network: 'tenant-a/blue', used: 1, available: 0 }]);
  });
});

describe('agent metric vxmesh_vtep_ready', () => {
  it('is 1 per cluster network with a VTEP, 0 where it is missing; a pass without VTEP info keeps the last values', async () => {
    const m = agentMetrics();
    m.recordPass({ durationMs: 1, converged: false, vteps: { overlay: true, storage: false } });
    m.recordPass({ durationMs: 1, converged: true });
    const text = await m.render({ ready: true, invalidObjects: 0, packets: [] });
    expect(text).toContain('vxmesh_vtep_ready{cluster_network="overlay"} 1');
    expect(text).toContain('vxmesh_vtep_ready{cluster_network="storage"} 0');
  });
});
