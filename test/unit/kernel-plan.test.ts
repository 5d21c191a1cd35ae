import { describe, it, expect } from 'vitest';
import { planKernel } from '../../src/dataplane/kernel/plan.js';
import { vtepFilterTable } from '../../src/dataplane/kernel/vtep-filter.js';
import { describeChange, Phase } from '../../src/dataplane/netlink/change.js';
import { emptyNode } from '../../src/dataplane/netlink/observe.js';
import { net, intent, link, convergedGateway, convergedPolicy, asObserved } from '../helpers/kernel-fixtures.js';

function converged() {
  const n = net(100);
  const it = intent([n]);
  const obs = convergedGateway(n);
  obs.node.links.push(link('vxl100', {
    kind: 'vxlan', mtu: 1450, master: 'vxb100', portLearning: false,
    vxlan: { id: 100, local: '198.18.0.11', port: 4789, dev: 'vxmu0', learning: false, proxy: true, external: false },
  }));
  for (const p of ['198.18.0.12', '198.18.0.13']) obs.node.fdb.push({ mac: '00:00:00:00:00:00', dev: 'vxl100', dst: p, self: true, state: 'permanent' });
  obs.node.tables.push(asObserved(vtepFilterTable(it)!), convergedPolicy(it, obs.node.links));
  return { it, obs };
}

describe('planKernel', () => {
  it('plans nothing for a converged node (idempotence)', () => {
    const { it: i, obs } = converged();
    const p = planKernel(obs, i);
    expect(p.errors).toEqual([]);
    expect(p.changes.map(describeChange)).toEqual([]);
  });

  it('puts the VTEP filter in place before any device, bridges before vxlan ports, FDB before neighbours', () => {
    const p = planKernel({ node: emptyNode(), routers: [] }, intent([net(100)]));
    const idx = (pred: (s: string) => boolean) => p.changes.map(describeChange).findIndex(pred);
    const filter = idx((s) => s.startsWith('nft table inet vxmesh_vtep'));
    const bridge = idx((s) => s === 'ip link add vxb100 mtu 1450 type bridge');
    const vxl = idx((s) => s.startsWith('ip link add vxl100'));
    const flood = idx((s) => s.startsWith('bridge fdb append 00:00:00:00:00:00 dev vxl100'));
    expect(filter).toBe(1); // after the namespace add
    expect(bridge).toBeGreaterThan(filter);
    expect(vxl).toBeGreaterThan(bridge);
    expect(flood).toBeGreaterThan(vxl);
    expect(p.changes[filter]!.phase).toBe(Phase.filter);
  });

  it('drops VxLAN from non-members per cluster network, with the peers in a named set', () => {
    const t = vtepFilterTable(intent([net(100)]))!;
    expect(t.sets).toEqual([{ name: 'vteps_overlay', type: 'ipv4_addr', elements: ['198.18.0.12', '198.18.0.13'] }]);
    expect(t.chains[0]!.rules[0]!.text).toBe('iifname "vxmu0" udp dport 4789 ip saddr != @vteps_overlay counter drop');
  });

  it('updates only the set when a peer joins', () => {
    const { it: i, obs } = converged();
    i.clusterNetworks[0]!.peers.push('198.18.0.14');
    expect(planKernel(obs, i).changes.map(describeChange)).toEqual([
      'nft add element inet vxmesh_vtep vteps_overlay { 198.18.0.14 }',
      'bridge fdb append 00:00:00:00:00:00 dev vxl100 dst 198.18.0.14 self permanent',
    ]);
  });

  it('starts FDB and neighbours from scratch for a recreated vxlan device', () => {
    const { it: i, obs } = converged();
    obs.node.links.find((l) => l.name === 'vxl100')!.vxlan!.port = 4790;
    const got = planKernel(obs, i).changes.map(describeChange);
    expect(got[0]).toBe('ip link del vxl100');
    expect(got.filter((s) => s.startsWith('bridge fdb append'))).toHaveLength(2);
  });

  it('removes everything of a network that left, the router namespace last; the filter goes with the cluster network', () => {
    const { obs } = converged();
    expect(planKernel(obs, intent([])).changes.map(describeChange)).toEqual([
      'nft delete table bridge vxmesh_policy', // no network left: no guard, no policy
      'nft delete table inet vxmesh',
      'ip link del vxb100',
      'ip link del vxl100',
      'netns del vxmr-n1-100',
    ]);
    expect(planKernel(obs, { node: 'n1', clusterNetworks: [] }).changes.map(describeChange)[0]).toBe('nft delete table inet vxmesh_vtep');
  });
});
