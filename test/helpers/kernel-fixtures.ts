/** Plain-object intents and observations for the kernel/gateway plan unit tests. */
import type { EndpointIntent, NodeIntent, NetworkIntent } from '../../src/intent/types.js';
import type { GatewayObserved, RouterObserved } from '../../src/dataplane/gateway/plan.js';
import type { LinkInfo } from '../../src/dataplane/netlink/link.js';
import { emptyNode } from '../../src/dataplane/netlink/observe.js';
import { gatewayMac } from '../../src/dataplane/names.js';
import { routerTable, nodeGatewayTable } from '../../src/dataplane/gateway/nft-rules.js';
import { ruleComment, type NftTableSpec, type ObservedTable } from '../../src/dataplane/netlink/nft.js';
import { gatewayGuard } from '../../src/dataplane/gateway/guard.js';
import { policyTableSpec, type PolicyTableSpec } from '../../src/dataplane/kernel/policy.js';
import { ruleComment as policyRuleComment } from '../../src/dataplane/kernel/policy-plan.js';

/** A VM of the network running on this node (n1, VTEP 198.18.0.11): the node then routes the network. */
export const localVm = (vni: number): EndpointIntent => ({
  vm: `t/vm${vni}`, iface: 'nic1', mac: '02:00:00:00:00:01', ip: '10.10.0.9', node: 'n1', vtep: '198.18.0.11', local: true,
});

/** A network with one local VM (`endpoints` overrides it). */
export function net(vni: number, over: Partial<NetworkIntent> = {}): NetworkIntent {
  return {
    key: `t/n${vni}`, vni, cidr: '10.10.0.0/24', prefixLen: 24, gateway: '10.10.0.1', gatewayMac: gatewayMac(vni),
    natOutgoing: true, mtu: 1450, endpoints: [localVm(vni)], ...over,
  };
}

export function intent(networks: NetworkIntent[], peers = ['198.18.0.12', '198.18.0.13']): NodeIntent {
  return {
    node: 'n1',
    clusterNetworks: [{ name: 'overlay', uplink: 'vxmu0', uplinkMtu: 1500, localVtep: '198.18.0.11', port: 4789, peers, networks }],
  };
}

export function link(name: string, over: Partial<LinkInfo> = {}): LinkInfo {
  return { name, ifindex: 0, up: true, mtu: 1500, addrs: [], ...over };
}

/** What nft would report back for a table we rendered. */
export function asObserved(t: NftTableSpec): ObservedTable {
  return {
    family: t.family, name: t.name,
    sets: t.sets.map((s) => ({ name: s.name, type: s.type, elements: [...s.elements] })),
    chains: t.chains.map((c) => ({ name: c.name, type: c.type, hook: c.hook, prio: c.prio, policy: c.policy, rules: c.rules.map(ruleComment) })),
  };
}

/** What nft would report back for the policy table we rendered (rule comments, canonical elements). */
export function asObservedPolicy(spec: PolicyTableSpec): ObservedTable {
  return {
    family: 'bridge', name: 'vxmesh_policy',
    sets: [...spec.flowSets, ...spec.sets.filter((x) => !x.map)].map((x) => ({ name: x.name, type: 'x', elements: [...x.elements] })),
    maps: spec.sets.filter((x) => x.map).map((x) => ({ name: x.name, elements: [...x.elements] })),
    chains: spec.chains.map((c) => ({ name: c.name, ...(c.head ? { type: 'filter', hook: 'forward', prio: 0, policy: 'accept' } : {}), rules: c.rules.map(policyRuleComment) })),
  };
}

/** The policy table as a converged node holds it. */
export const convergedPolicy = (it: NodeIntent, links: LinkInfo[]) => asObservedPolicy(policyTableSpec(it, links)!);

/** A node that already holds a converged gateway for one network at transit slot `slot`. */
export function convergedGateway(n: NetworkIntent, slot = 0, peers?: string[]): GatewayObserved {
  const base = 1 + slot * 4;
  const nodeIp = `169.254.64.${base}`;
  const router: RouterObserved = {
    ns: `vxmr-n1-${n.vni}`, vni: n.vni, ipForward: '1',
    links: [
      link('lo', { mtu: 65536 }),
      link('gw0', { mtu: n.mtu, mac: n.gatewayMac, addrs: [`${n.gateway}/${n.prefixLen}`] }),
      link('up0', { addrs: [`169.254.64.${base + 1}/30`] }),
    ],
    routes: [{ dst: 'default', via: nodeIp, dev: 'up0' }],
    tables: [],
  };
  const node = emptyNode();
  node.ipForward = '1';
  node.links.push(
    link('vxmu0', { addrs: ['198.18.0.11/24'] }),
    link(`vxb${n.vni}`, { kind: 'bridge', mtu: n.mtu }),
    link(`vxg${n.vni}`, { kind: 'veth', mtu: n.mtu, master: `vxb${n.vni}` }),
    link(`vxo${n.vni}`, { kind: 'veth', addrs: [`${nodeIp}/30`] }),
  );
  node.fdb.push({ mac: n.gatewayMac, dev: `vxg${n.vni}`, self: false, master: `vxb${n.vni}`, state: 'static' });
  const guard = gatewayGuard(intent([n], peers), node.links);
  router.tables.push(asObserved(routerTable(n.natOutgoing, guard)));
  node.tables.push(asObserved(nodeGatewayTable(['vxmu0'], guard)));
  return { node, routers: [router] };
}
