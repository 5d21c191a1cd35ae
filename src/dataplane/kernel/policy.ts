/**
 * Traffic policies and the VM-port guard in kernel mode: one table `bridge vxmesh_policy` (present
 * whenever the node has a network). The bridge family sees every frame the vxb<vni> bridges forward
 * (VM <-> VM on the node, VM <-> vxl<vni>, VM <-> gateway leg) without br_netfilter, which stays off:
 * turning it on would send every bridged frame through the inet/ip hooks of the whole node (see the
 * README's Kubernetes-like figures).
 *
 * Keyed by network. This kernel has no bridge meta expressions (`meta ibrname`: EOPNOTSUPP), so the
 * network of a frame is found from its output port: the map `ports` sends each member of vxb<vni> (VM
 * ports, vxg<vni>, vxl<vni>; observed) to the chain n<vni>. Every name below n<vni> is per network —
 * MAC-keyed verdict maps, flow sets — so two tenants with equal MACs and equal CIDRs never meet. A frame
 * to a port not observed yet (plugged since the last pass) is dropped when its destination MAC is guarded
 * in any network (fail closed until the pass that follows the plug); the sending port needs no lookup,
 * so a VM migrating here is guarded from its first frame.
 *
 * n<vni>_guard, for frames from any port but the gateway leg (whether or not policies exist; bpf mode's
 * mirror is bpf/include/policy.h + dhcp.h): IPv4 inside an L2 broadcast/multicast frame must be addressed
 * to 255.255.255.255, 224.0.0.0/4 or the network's directed broadcast; a VM may only be a DHCP client —
 * no UDP from port 67; UDP to port 67 of the node's dnsmasq (broadcast, gateway, directed broadcast) only
 * from 68, as a BOOTREQUEST, and one whose chaddr is an endpoint of the network must come from that MAC (a MAC the
 * network does not know may ask: dnsmasq ignores it, and it can name no one else's lease).
 *
 * Policies. This kernel has no bridge conntrack (CONFIG_NF_CONNTRACK_BRIDGE unset), so replies are
 * recognised by a flow table of our own per network: every allowed packet that involves a guarded VM
 * records its 5-tuple in the dynamic set n<vni>_flows (ICMP echo: n<vni>_iflows, by id), a packet whose
 * reversed tuple is in it passes as a reply. Each network's flow sets have their own size
 * (FLOW_SET_SIZE): one tenant filling its share cannot push another's flows out. Per group one chain and
 * two interval sets (`g<id>_l4`: addr . proto . port ranges; `g<id>_any`), dispatched from the network's
 * verdict maps keyed by MAC — never a rule per VM pair. DHCP passes policies on the client and server legs
 * only (68 -> 67 to broadcast/gateway, 67 -> 68 from vxg<vni>). Pure; policy-plan.ts turns it into
 * transactions.
 */
import type { NetworkIntent, NodeIntent } from '../../intent/types.js';
import type { PolicyGroup } from '../../intent/policy-types.js';
import { groupRegions } from '../../intent/regions.js';
import { directedBroadcast, intToIp } from '../../util/ipv4.js';
import type { LinkInfo } from '../netlink/link.js';
import { names } from '../names.js';

export const POLICY_TABLE = 'vxmesh_policy';
/** Entries of each network's flow sets (its share of the flow table). */
export const FLOW_SET_SIZE = 16384;

export interface PolicyRuleSpec {
  text: string;
  /** Counter label kept in the comment (policy-inspect.ts), before the content hash. */
  label?: string;
}
export interface PolicyChainSpec {
  name: string;
  /** Base chains only: `type filter hook forward priority 0; policy accept;`. */
  head?: string;
  rules: PolicyRuleSpec[];
}
export interface PolicySetSpec {
  name: string;
  /** `type …; flags …;` or `typeof …;` (maps: `type ifname : verdict;`). */
  decl: string;
  /** Canonical elements (nft.ts canonicalElement); map entries `<key> : <verdict>`. */
  elements: string[];
  map?: boolean;
  /** Keys are interface names (quoted when rendered). */
  ifnameKeys?: boolean;
}
export interface PolicyTableSpec {
  /** Dynamic flow sets: created once, never replaced (they hold the connections' state). */
  flowSets: PolicySetSpec[];
  sets: PolicySetSpec[];
  chains: PolicyChainSpec[];
}

const flowSetNames = (vni: number) => [`n${vni}_flows`, `n${vni}_iflows`];
export const isFlowSet = (name: string) => /^n\d+_i?flows$/.test(name);

function flowSets(vni: number): PolicySetSpec[] {
  const [flows, iflows] = flowSetNames(vni);
  return [
    { name: flows!, decl: `type ipv4_addr . ipv4_addr . inet_proto . inet_service . inet_service; flags dynamic,timeout; timeout 120s; size ${FLOW_SET_SIZE};`, elements: [] },
    { name: iflows!, decl: `typeof ip saddr . ip daddr . icmp id; flags dynamic,timeout; timeout 60s; size ${FLOW_SET_SIZE};`, elements: [] },
  ];
}

const range = (from: number, to: number) => (from === to ? intToIp(from) : `${intToIp(from)}-${intToIp(to)}`);
const macInt = (mac: string) => parseInt(mac.replace(/:/g, ''), 16);

function groupSpec(g: PolicyGroup): { sets: PolicySetSpec[]; chain: PolicyChainSpec } {
  const regions = groupRegions(g);
  const any = regions.filter((r) => r.any).map((r) => range(r.from, r.to));
  const l4 = regions.filter((r) => !r.any).flatMap((r) => r.ports.map((p) => `${range(r.from, r.to)} . ${p.protocol} . ${p.from === p.to ? p.from : `${p.from}-${p.to}`}`));
  const peer = g.direction === 'ingress' ? 'ip saddr' : 'ip daddr';
  const who = `g${g.id} ${g.direction} ${g.policies.join(',')}`.slice(0, 100);
  return {
    sets: [
      { name: `g${g.id}_l4`, decl: 'type ipv4_addr . inet_proto . inet_service; flags interval;', elements: l4 },
      { name: `g${g.id}_any`, decl: 'type ipv4_addr; flags interval;', elements: any },
    ],
    chain: {
      name: `g${g.id}`,
      rules: [
        { text: 'ether type != ip counter drop', label: `deny-nonip ${who}` },
        { text: `${peer} . meta l4proto . th dport @g${g.id}_l4 counter return`, label: `allow-l4 ${who}` },
        { text: `${peer} @g${g.id}_any counter return`, label: `allow-any ${who}` },
        { text: 'counter drop', label: `deny ${who}` },
      ],
    },
  };
}

/** The VM-port guard of one network (header). */
function guardSpec(n: NetworkIntent): { sets: PolicySetSpec[]; chains: PolicyChainSpec[] } {
  const v = n.vni;
  const bcast = directedBroadcast(n.cidr);
  const server = `{ 255.255.255.255, ${n.gateway}, ${bcast} }`;
  const macs = [...new Set(n.endpoints.map((e) => e.mac.toLowerCase()))].sort();
  return {
    sets: [
      { name: `n${v}_known`, decl: 'typeof @th,288,48;', elements: macs.map((m) => String(macInt(m))) },
      { name: `n${v}_chaddr`, decl: 'typeof ether saddr . @th,288,48;', elements: macs.map((m) => `${m} . ${macInt(m)}`) },
    ],
    chains: [{
      name: `n${v}_dhcp`,
      rules: [
        { text: 'udp sport != 68 counter drop', label: 'guard-dhcp-port' },
        { text: '@th,64,8 != 1 counter drop', label: 'guard-dhcp-op' },
        { text: `@th,288,48 @n${v}_known ether saddr . @th,288,48 != @n${v}_chaddr counter drop`, label: 'guard-dhcp-chaddr' },
      ],
    }, {
      name: `n${v}_guard`,
      rules: [
        { text: `ether daddr & 01:00:00:00:00:00 == 01:00:00:00:00:00 ip daddr != { 255.255.255.255, 224.0.0.0/4, ${bcast} } counter drop`, label: 'guard-unicast-in-broadcast' },
        { text: 'udp sport 67 counter drop', label: 'guard-dhcp-server' },
        { text: `udp dport 67 ip daddr ${server} jump n${v}_dhcp` },
      ],
    }],
  };
}

/** The policy rules of one network's chain (after its guard). */
function policyRules(n: NetworkIntent): PolicyRuleSpec[] {
  const v = n.vni;
  const [flows, iflows] = flowSetNames(v);
  const vxl = names.vxlan(v);
  return [
    { text: `ether saddr != @n${v}_guarded ether daddr != @n${v}_guarded accept` },
    { text: `udp sport 68 udp dport 67 ip daddr { 255.255.255.255, ${n.gateway} } accept` },
    { text: `iifname "${names.gatewayPort(v)}" udp sport 67 udp dport 68 accept` },
    { text: `ip daddr . ip saddr . meta l4proto . th dport . th sport @${flows} accept` },
    { text: `icmp type echo-reply ip daddr . ip saddr . icmp id @${iflows} accept` },
    { text: `iifname != "${vxl}" ether saddr vmap @n${v}_from_vm` },
    { text: `oifname != "${vxl}" ether daddr vmap @n${v}_to_vm` },
    { text: `meta l4proto { tcp, udp, sctp } update @${flows} { ip saddr . ip daddr . meta l4proto . th sport . th dport }` },
    { text: `icmp type echo-request update @${iflows} { ip saddr . ip daddr . icmp id }` },
  ];
}

const QUAD = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;

/** Why a network cannot be rendered into nft (its values would break the table's one transaction), if so. */
function unrenderable(n: NetworkIntent): string | undefined {
  if (!QUAD.test(n.gateway)) return `gateway ${n.gateway} is not an IPv4 address`;
  const [ip, len] = n.cidr.split('/');
  if (!QUAD.test(ip ?? '') || !/^\d+$/.test(len ?? '') || Number(len) > 32) return `cidr ${n.cidr} is not an IPv4 CIDR`;
  return undefined;
}

/**
 * The whole desired table; undefined when the node has no network. `links`: the node's links (VM ports
 * are the observed members of vxb<vni>; vxg<vni> and vxl<vni> are named ahead, so the pass that creates
 * them needs no second one). A network that cannot be rendered is left out and reported in `errors`.
 */
export function policyTableSpec(intent: NodeIntent, links: LinkInfo[], errors: Array<{ network?: string; vni?: number; message: string }> = []): PolicyTableSpec | undefined {
  const nets = intent.clusterNetworks.flatMap((cn) => cn.networks).filter((n) => {
    const why = unrenderable(n);
    if (why) errors.push({ network: n.key, vni: n.vni, message: `policy table: ${why}; the network is left out` });
    return !why;
  });
  if (nets.length === 0) return undefined;
  const spec: PolicyTableSpec = { flowSets: [], sets: [], chains: [] };
  const ports: string[] = [];
  const guardedAll = new Set<string>();
  const chains: PolicyChainSpec[] = [];
  for (const n of nets) {
    const v = n.vni;
    const members = new Set([names.gatewayPort(v), names.vxlan(v)]);
    for (const l of links) if (l.master === names.bridge(v)) members.add(l.name);
    for (const p of members) ports.push(`${p} : goto n${v}`);
    const guard = guardSpec(n);
    spec.sets.push(...guard.sets);
    const rules: PolicyRuleSpec[] = [{ text: `iifname != "${names.gatewayPort(v)}" jump n${v}_guard` }];
    if (n.policy) {
      const ingress: string[] = [];
      const egress: string[] = [];
      for (const ep of n.policy.endpoints) {
        guardedAll.add(ep.mac);
        if (ep.ingress !== undefined) ingress.push(`${ep.mac} : jump g${ep.ingress}`);
        if (ep.egress !== undefined) egress.push(`${ep.mac} : jump g${ep.egress}`);
      }
      spec.flowSets.push(...flowSets(v));
      spec.sets.push(
        { name: `n${v}_guarded`, decl: 'type ether_addr;', elements: [...new Set(n.policy.endpoints.map((e) => e.mac))].sort() },
        { name: `n${v}_to_vm`, decl: 'type ether_addr : verdict;', elements: ingress, map: true },
        { name: `n${v}_from_vm`, decl: 'type ether_addr : verdict;', elements: egress, map: true },
      );
      for (const g of n.policy.groups) {
        const gs = groupSpec(g);
        spec.sets.push(...gs.sets);
        chains.push(gs.chain);
      }
      rules.push(...policyRules(n));
    }
    chains.push(...guard.chains, { name: `n${v}`, rules });
  }
  spec.sets.push(
    { name: 'ports', decl: 'type ifname : verdict;', elements: ports.sort(), map: true, ifnameKeys: true },
    { name: 'guarded', decl: 'type ether_addr;', elements: [...guardedAll].sort() },
  );
  spec.chains = [
    ...chains,
    {
      name: 'forward',
      head: 'type filter hook forward priority 0; policy accept;',
      rules: [
        { text: 'ether type arp accept' },
        { text: 'oifname vmap @ports' },
        { text: 'ether daddr @guarded counter drop', label: 'unknown-port' },
      ],
    },
  ];
  return spec;
}
