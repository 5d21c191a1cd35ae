import { describe, it, expect } from 'vitest';
import { planKernel } from '../../src/dataplane/kernel/plan.js';
import { vtepFilterTable } from '../../src/dataplane/kernel/vtep-filter.js';
import { floodLimitTable } from '../../src/dataplane/kernel/flood-limit.js';
import { describeChange, Phase } from '../../src/dataplane/netlink/change.js';
import { emptyNode } from '../../src/dataplane/netlink/observe.js';
import { net, intent, link, localVm, convergedGateway, convergedPolicy, asObserved } from '../helpers/kernel-fixtures.js';
import type { EndpointIntent } from '../../src/intent/types.js';

/** A remote VM of VNI 100 on the node with VTEP `vtep`. */
const remoteVm = (last: number, vtep: string): EndpointIntent => ({
  vm: `t/r${last}`, iface: 'nic1', mac: `02:00:00:00:01:${last}`, ip: `10.10.0.${last}`, node: vtep, vtep, local: false,
});

/** n1 with VNI 100: a local VM and one remote VM on each peer, so the flood list names both. */
function converged() {
  const n = net(100, { endpoints: [localVm(100), remoteVm(12, '198.18.0.12'), remoteVm(13, '198.18.0.13')] });
  const it = intent([n]);
  const obs = convergedGateway(n);
  for (const r of [remoteVm(12, '198.18.0.12'), remoteVm(13, '198.18.0.13')]) {
    obs.node.fdb.push({ mac: r.mac, dev: 'vxl100', dst: r.vtep, self: true, state: 'permanent' });
    obs.node.fdb.push({ mac: r.mac, dev: 'vxl100', self: false, master: 'vxb100', state: 'static' });
    obs.node.neigh.push({ ip: r.ip, dev: 'vxl100', mac: r.mac, permanent: true });
  }
  obs.node.links.push(link('vxl100', {
    kind: 'vxlan', mtu: 1450, master: 'vxb100', portLearning: false,
    vxlan: { id: 100, local: '198.18.0.11', port: 4789, dev: 'vxmu0', learning: false, proxy: true, external: false },
  }));
  for (const p of ['198.18.0.12', '198.18.0.13']) obs.node.fdb.push({ mac: '00:00:00:00:00:00', dev: 'vxl100', dst: p, self: true, state: 'permanent' });
  obs.node.tables.push(asObserved(vtepFilterTable(it)!), asObserved(floodLimitTable(it)!), convergedPolicy(it, obs.node.links));
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
    const p = planKernel({ node: emptyNode(), routers: [] }, converged().it);
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

  it('drops VxLAN for a cluster network\'s VNIs to this node (any interface) from non-members of that cluster network, with the peers in a named set', () => {
    const t = vtepFilterTable(intent([net(100), net(200)]))!;
    expect(t.sets).toEqual([{ name: 'vteps_overlay', type: 'ipv4_addr', elements: ['198.18.0.12', '198.18.0.13'] }]);
    expect(t.chains[0]!.rules[0]!.text).toBe('udp dport 4789 fib daddr type local @th,96,24 { 100, 200 } ip saddr != @vteps_overlay counter drop');
  });

  it('keeps two cluster networks on one port apart: each VNI admits only its own cluster network\'s members', () => {
    const a = intent([net(100)]).clusterNetworks[0]!;
    const b = { ...a, name: 'edge', peers: ['198.18.0.13'], networks: [net(300)] };
    const t = vtepFilterTable({ node: 'n1', clusterNetworks: [a, b] })!;
    expect(t.chains[0]!.rules.map((r) => r.text)).toEqual([
      'udp dport 4789 fib daddr type local @th,96,24 { 100 } ip saddr != @vteps_overlay counter drop',
      'udp dport 4789 fib daddr type local @th,96,24 { 300 } ip saddr != @vteps_edge counter drop',
    ]);
  });

  it('limits each VNI\'s broadcast/multicast into its vxlan device (the replication budget of bpf mode)', () => {
    const t = floodLimitTable(intent([net(100), net(200)]))!;
    expect(t).toMatchObject({ family: 'bridge', name: 'vxmesh_flood' });
    expect(t.chains[0]!.rules.map((r) => r.text)).toEqual([100, 200].map((v) =>
      `oifname "vxl${v}" ether daddr & 01:00:00:00:00:00 == 01:00:00:00:00:00 limit rate over 1000/second burst 200 packets counter drop`));
    expect(floodLimitTable(intent([]))).toBeUndefined();
  });

  it('updates only the sets when a peer joins (VTEP filter and both gateway guards), and floods to it once it holds the VNI', () => {
    const { it: i, obs } = converged();
    i.clusterNetworks[0]!.peers.push('198.18.0.14');
    expect(planKernel(obs, i).changes.map(describeChange).sort()).toEqual([
      'nft add element inet vxmesh guard_vteps { 198.18.0.14 }',
      'nft add element inet vxmesh_vtep vteps_overlay { 198.18.0.14 }',
      '[vxmr-n1-100] nft add element inet vxmesh guard_vteps { 198.18.0.14 }',
    ].sort());
    i.clusterNetworks[0]!.networks[0]!.endpoints.push(remoteVm(14, '198.18.0.14'));
    expect(planKernel(obs, i).changes.map(describeChange)).toContain('bridge fdb append 00:00:00:00:00:00 dev vxl100 dst 198.18.0.14 self permanent');
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
    const got = planKernel(obs, intent([])).changes.map(describeChange);
    // the VTEP filter keeps the cluster network's set and loses the rule of its last VNI
    expect(got[0]).toMatch(/^nft table inet vxmesh_vtep \{\}\ndelete table inet vxmesh_vtep\n/);
    expect(got[0]).not.toContain('drop');
    expect(got.slice(1)).toEqual([
      'nft delete table bridge vxmesh_policy', // no network left: no guard, no policy
      'nft delete table bridge vxmesh_flood',
      'nft delete table inet vxmesh',
      'ip link del vxb100',
      'ip link del vxl100',
      'netns del vxmr-n1-100',
    ]);
    expect(planKernel(obs, { node: 'n1', clusterNetworks: [] }).changes.map(describeChange)[0]).toBe('nft delete table inet vxmesh_vtep');
  });
});
