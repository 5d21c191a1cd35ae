import { describe, it, expect } from 'vitest';
import { planGateways, routerObserveErrors } from '../../src/dataplane/gateway/plan.js';
import { planKernel } from '../../src/dataplane/kernel/plan.js';
import { planBridges } from '../../src/dataplane/gateway/bridges.js';
import { orderChanges, describeChange, Phase } from '../../src/dataplane/netlink/change.js';
import { emptyNode } from '../../src/dataplane/netlink/observe.js';
import { net, intent, link, convergedGateway } from '../helpers/kernel-fixtures.js';

const lines = (cs: ReturnType<typeof planGateways>) => orderChanges(cs).map(describeChange);

describe('planGateways', () => {
  it('builds a router from nothing: namespace first, then legs, router addresses, route, sysctl, nft', () => {
    const got = lines(planGateways({ node: emptyNode(), routers: [] }, intent([net(100)])));
    expect(got[0]).toBe('netns add vxmr-n1-100');
    const i = (s: string) => got.findIndex((l) => l === s);
    expect(i('ip link add vxg100 mtu 1450 type veth peer name gw0 netns vxmr-n1-100 mtu 1450')).toBeGreaterThan(0);
    expect(i('ip link set vxg100 master vxb100')).toBeGreaterThan(i('ip link add vxg100 mtu 1450 type veth peer name gw0 netns vxmr-n1-100 mtu 1450'));
    expect(got).toContain('ip addr add 169.254.64.1/30 dev vxo100');
    expect(got).toContain('[vxmr-n1-100] ip link set gw0 address 02:76:6d:00:00:64');
    expect(got).toContain('[vxmr-n1-100] ip addr add 10.10.0.1/24 dev gw0');
    expect(got).toContain('[vxmr-n1-100] ip addr add 169.254.64.2/30 dev up0');
    expect(i('[vxmr-n1-100] ip route replace default via 169.254.64.1 dev up0')).toBeGreaterThan(i('[vxmr-n1-100] ip addr add 169.254.64.2/30 dev up0'));
    expect(got).toContain('[vxmr-n1-100] sysctl net.ipv4.ip_forward 1');
    expect(got).toContain('sysctl net.ipv4.ip_forward 1');
    expect(got).toContain('bridge fdb replace 02:76:6d:00:00:64 dev vxg100 master static');
    const routerNft = got.find((l) => l.startsWith('[vxmr-n1-100] nft'))!;
    expect(routerNft).toContain('oifname "up0" masquerade');
    const nodeNft = got.find((l) => l.startsWith('nft'))!;
    expect(nodeNft).toContain('ip saddr 169.254.64.0/18 oifname "vxmu0" masquerade');
    expect(nodeNft).toContain('iifname "vxo*" oifname "vxo*" drop');
  });

  it('plans nothing for a converged node', () => {
    const n = net(100);
    expect(planGateways(convergedGateway(n), intent([n]))).toEqual([]);
  });

  it('drops forwarding to up0 instead of masquerading for an isolated network', () => {
    const n = net(100, { natOutgoing: false });
    const obs = convergedGateway(net(100));
    const got = lines(planGateways(obs, intent([n])));
    expect(got).toHaveLength(1);
    expect(got[0]).toContain('delete table inet vxmesh');
    expect(got[0]).toContain('oifname "up0" drop');
    expect(got[0]).not.toContain('masquerade');
  });

  it('keeps an existing router on its transit and gives a new one the lowest free /30', () => {
    const n100 = net(100);
    const obs = convergedGateway(n100, 7);
    const got = lines(planGateways(obs, intent([n100, net(200)])));
    expect(got.some((l) => l.includes('vxo100') || l.includes('vxmr-n1-100'))).toBe(false);
    expect(got).toContain('ip addr add 169.254.64.1/30 dev vxo200');
  });

  it('re-adds a gateway address removed by hand and repairs the default route', () => {
    const n = net(100);
    const obs = convergedGateway(n);
    obs.routers[0]!.links[1]!.addrs = ['10.10.0.254/24'];
    obs.routers[0]!.routes = [];
    expect(lines(planGateways(obs, intent([n])))).toEqual([
      '[vxmr-n1-100] ip addr del 10.10.0.254/24 dev gw0',
      '[vxmr-n1-100] ip addr add 10.10.0.1/24 dev gw0',
      '[vxmr-n1-100] ip route replace default via 169.254.64.1 dev up0',
    ]);
  });

  it('recreates a gateway leg whose router end is gone', () => {
    const n = net(100);
    const obs = convergedGateway(n);
    obs.routers[0]!.links = obs.routers[0]!.links.filter((l) => l.name !== 'gw0');
    const got = lines(planGateways(obs, intent([n])));
    expect(got.slice(0, 2)).toEqual(['ip link del vxg100', 'ip link add vxg100 mtu 1450 type veth peer name gw0 netns vxmr-n1-100 mtu 1450']);
    expect(got).toContain('bridge fdb replace 02:76:6d:00:00:64 dev vxg100 master static');
  });

  it('deletes the router of a network that left the intent last, and the node table with the last network', () => {
    const obs = convergedGateway(net(100));
    const cs = orderChanges(planGateways(obs, intent([])));
    expect(cs.map(describeChange)).toEqual(['nft delete table inet vxmesh', 'netns del vxmr-n1-100']);
    expect(cs.at(-1)!.phase).toBe(Phase.netnsDel);
  });
});

describe('the gateway guard (no overlay packet to a VTEP or the node through a router)', () => {
  it('drops, in the router towards up0 and in the node from the router legs, packets to member VTEPs, the node, VTEP ports and the transit range', () => {
    const n = net(100);
    const i = { ...intent([n]), underlay: { vteps: ['198.19.0.7'], ports: [4790] } };
    const obs = { node: emptyNode(), routers: [] };
    obs.node.links.push(link('vxmu0', { addrs: ['198.18.0.11/24'] }), link('eth9', { addrs: ['192.0.2.5/24'] }), link('vxo7', { addrs: ['169.254.64.29/30'] }));
    const got = lines(planGateways(obs, i));
    const routerNft = got.find((l) => l.startsWith('[vxmr-n1-100] nft'))!;
    const nodeNft = got.find((l) => l.startsWith('nft'))!;
    for (const t of [routerNft, nodeNft]) {
      expect(t).toContain('set guard_vteps { type ipv4_addr; elements = { 198.18.0.11, 198.18.0.12, 198.18.0.13, 198.19.0.7 } }');
      expect(t).toContain('set guard_node { type ipv4_addr; elements = { 192.0.2.5, 198.18.0.11 } }');
      expect(t).toContain('set guard_ports { type inet_service; elements = { 4789, 4790 } }');
    }
    for (const [t, m] of [[routerNft, 'oifname "up0"'], [nodeNft, 'iifname "vxo*"']] as const) {
      expect(t).toContain(`${m} ip daddr @guard_vteps counter drop`);
      expect(t).toContain(`${m} ip daddr @guard_node counter drop`);
      expect(t).toContain(`${m} udp dport @guard_vtep_ports counter drop`.replace('guard_vtep_ports', 'guard_ports'));
      expect(t).toContain(`${m} ip daddr 169.254.64.0/18 counter drop`);
    }
    // before the masquerade could ever apply: the guard is in the filter forward chain, ahead of accept rules
    expect(routerNft.indexOf('guard_vteps counter drop')).toBeGreaterThan(routerNft.indexOf('chain forward'));
  });

  it('updates the guard sets in place when a peer joins or leaves: no table rebuild', () => {
    const n = net(100);
    const obs = convergedGateway(n);
    expect(lines(planGateways(obs, intent([n], ['198.18.0.12', '198.18.0.14'])))).toEqual([
      '[vxmr-n1-100] nft add element inet vxmesh guard_vteps { 198.18.0.14 }',
      '[vxmr-n1-100] nft delete element inet vxmesh guard_vteps { 198.18.0.13 }',
      'nft add element inet vxmesh guard_vteps { 198.18.0.14 }',
      'nft delete element inet vxmesh guard_vteps { 198.18.0.13 }',
    ]);
  });
});

describe('routers only where the network has a VM', () => {
  it('builds no router (nor node table) for a network without a local or arriving VM, and removes one whose last VM left', () => {
    const remote = { vm: 't/r', iface: 'nic1', mac: '02:00:00:00:00:02', ip: '10.10.0.3', node: 'n2', vtep: '198.18.0.12', local: false };
    expect(planGateways({ node: emptyNode(), routers: [] }, intent([net(100, { endpoints: [remote] })]))).toEqual([]);
    const obs = convergedGateway(net(100));
    expect(lines(planGateways(obs, intent([net(100, { endpoints: [remote] })])))).toEqual(['nft delete table inet vxmesh', 'netns del vxmr-n1-100']);
  });

  it('builds the router on a migration target before the switchover (the VM is still remote, arriving)', () => {
    const arriving = {
      vm: 't/m', iface: 'nic1', mac: '02:00:00:00:00:03', ip: '10.10.0.4', node: 'n2', vtep: '198.18.0.12', local: false,
      migratingTo: { node: 'n1', vtep: '198.18.0.11' }, arriving: true as const,
    };
    expect(lines(planGateways({ node: emptyNode(), routers: [] }, intent([net(100, { endpoints: [arriving] })])))[0]).toBe('netns add vxmr-n1-100');
  });
});

describe('an unreadable router namespace (issue 19)', () => {
  it('is an error of the pass naming the network, and nothing of it is deleted or recreated', () => {
    const n = net(100);
    const obs = convergedGateway(n);
    obs.routers[0] = { ns: 'vxmr-n1-100', vni: 100, links: [], routes: [], tables: [], error: 'nsenter: permission denied' };
    expect(planGateways(obs, intent([n]))).toEqual([]);
    expect(routerObserveErrors(obs, intent([n]))).toEqual([
      { vni: 100, network: 't/n100', message: 'router namespace vxmr-n1-100 unreadable, left as it is: nsenter: permission denied' },
    ]);
    // not even when its network left the intent: the next readable pass deletes it
    expect(lines(planGateways(obs, intent([])))).toEqual(['nft delete table inet vxmesh']);
  });

  it('fails the kernel plan of that network only (an error, no change to the router or its legs)', () => {
    const n = net(100);
    const obs = convergedGateway(n);
    obs.routers[0] = { ...obs.routers[0]!, links: [], routes: [], tables: [], error: 'boom' };
    const p = planKernel(obs, intent([n]));
    expect(p.errors.map((e) => e.network)).toEqual(['t/n100']);
    // the router's links, legs and namespace (the policy table names the gateway leg, it is not the router's)
    const routerChanges = p.changes.filter((c) => c.tool !== 'nft').map(describeChange);
    expect(routerChanges.filter((l) => /vx[go]100|vxmr-n1-100/.test(l))).toEqual([]);
  });
});

describe('planBridges', () => {
  it('creates missing bridges with the network MTU and fixes a wrong MTU', () => {
    const got = planBridges([link('vxb200', { kind: 'bridge', mtu: 1500 })], intent([net(100), net(200)])).map(describeChange);
    expect(got).toEqual(['ip link add vxb100 mtu 1450 type bridge', 'ip link set vxb100 up', 'ip link set vxb200 mtu 1450']);
  });

  it('never deletes a stale bridge that still holds a VM port', () => {
    const links = [link('vxb100', { kind: 'bridge' }), link('vxl100', { master: 'vxb100' }), link('tap0', { master: 'vxb100' })];
    expect(planBridges(links, intent([]))).toEqual([]);
  });

  it('deletes a stale bridge holding only vxmesh ports, after everything else', () => {
    const links = [link('vxb100', { kind: 'bridge' }), link('vxl100', { master: 'vxb100' }), link('vxg100', { master: 'vxb100' })];
    const got = planBridges(links, intent([]));
    expect(got.map(describeChange)).toEqual(['ip link del vxb100']);
    expect(got[0]!.phase).toBe(Phase.linkDel);
  });

  it('leaves devices it does not own alone', () => {
    expect(planBridges([link('vxmu0'), link('br0', { kind: 'bridge' }), link('vxbfoo', { kind: 'bridge' })], intent([]))).toEqual([]);
  });
});
