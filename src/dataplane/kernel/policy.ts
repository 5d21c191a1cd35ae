/**
 * Traffic policies in kernel mode: one table `bridge vxmesh_policy`. The bridge family sees every frame
 * the vxb<vni> bridges forward (VM <-> VM on the node, VM <-> vxl<vni>, VM <-> gateway leg) without
 * br_netfilter, which stays off: turning it on would send every bridged frame through the inet/ip
 * hooks of the whole node (see the README's Kubernetes-like figures).
 *
 * This kernel has no bridge conntrack (CONFIG_NF_CONNTRACK_BRIDGE unset), so `ct state` cannot be used
 * in the bridge family; replies are recognised by a flow table of our own instead, as in bpf mode:
 * every allowed packet that involves a guarded VM records its 5-tuple in the dynamic set `flows`
 * (ICMP echo: `iflows`, keyed by id) with a timeout refreshed by each packet, and a packet whose
 * reversed tuple is in it passes as a reply.
 *
 * Guarded MACs = every endpoint selected by a policy on a network of this node, local or remote. Frames
 * from a guarded MAC that did not come out of the tunnel (`iifname != "vxl*"`) are checked against its
 * egress group; frames to a guarded MAC that are not going into the tunnel against its ingress group.
 * Keying by MAC rather than by port means a VM migrating here is guarded from the moment its port
 * appears on the bridge, before this node's intent says it is local: no open window.
 *
 * Per group: one chain and two interval sets (`g<id>_l4`: addr . proto . port ranges; `g<id>_any`:
 * addresses allowed every protocol), dispatched from verdict maps keyed by MAC — never a rule per VM
 * pair. The table is changed in one `nft -f` transaction that replaces everything but the flow sets,
 * so established flows survive policy and membership changes. Pure.
 */
import type { NodeIntent } from '../../intent/types.js';
import type { PolicyGroup } from '../../intent/policy-types.js';
import { groupRegions } from '../../intent/regions.js';
import { intToIp } from '../../util/ipv4.js';
import type { ObservedTable } from '../netlink/nft.js';
import { Phase, type Change } from '../netlink/change.js';
import { fnv1aHex } from '../../util/hash.js';

export const POLICY_TABLE = 'vxmesh_policy';
const T = `bridge ${POLICY_TABLE}`;
/** Flow-table sets: created once, never replaced (they hold the connections' state). */
export const FLOW_SETS = [
  'set flows { type ipv4_addr . ipv4_addr . inet_proto . inet_service . inet_service; flags dynamic,timeout; timeout 120s; size 65536; }',
  'set iflows { typeof ip saddr . ip daddr . icmp id; flags dynamic,timeout; timeout 60s; size 65536; }',
];
const FLOW_SET_NAMES = new Set(['flows', 'iflows']);

const range = (from: number, to: number) => (from === to ? intToIp(from) : `${intToIp(from)}-${intToIp(to)}`);

function groupBody(g: PolicyGroup): string[] {
  const regions = groupRegions(g);
  const any = regions.filter((r) => r.any).map((r) => range(r.from, r.to));
  const l4 = regions.filter((r) => !r.any).flatMap((r) => r.ports.map((p) => `${range(r.from, r.to)} . ${p.protocol} . ${p.from === p.to ? p.from : `${p.from}-${p.to}`}`));
  const peer = g.direction === 'ingress' ? 'ip saddr' : 'ip daddr';
  const els = (xs: string[]) => (xs.length ? ` elements = { ${xs.join(', ')} };` : '');
  const who = `g${g.id} ${g.direction} ${g.policies.join(',')}`.slice(0, 120);
  return [
    `  set g${g.id}_l4 { type ipv4_addr . inet_proto . inet_service; flags interval;${els(l4)} }`,
    `  set g${g.id}_any { type ipv4_addr; flags interval;${els(any)} }`,
    `  chain g${g.id} {`,
    `    ether type != ip counter drop comment "deny-nonip ${who}"`,
    `    ${peer} . meta l4proto . th dport @g${g.id}_l4 counter return comment "allow-l4 ${who}"`,
    `    ${peer} @g${g.id}_any counter return comment "allow-any ${who}"`,
    `    counter drop comment "deny ${who}"`,
    '  }',
  ];
}

/** The table's content except the flow sets; undefined when no policy applies on this node. */
export function policyTableBody(intent: NodeIntent): string[] | undefined {
  const nets = intent.clusterNetworks.flatMap((cn) => cn.networks).filter((n) => n.policy);
  if (nets.length === 0) return undefined;
  const guarded = new Set<string>();
  const ingress: string[] = [];
  const egress: string[] = [];
  const lines: string[] = [];
  for (const n of nets) {
    for (const ep of n.policy!.endpoints) {
      guarded.add(ep.mac);
      if (ep.ingress !== undefined) ingress.push(`${ep.mac} : jump g${ep.ingress}`);
      if (ep.egress !== undefined) egress.push(`${ep.mac} : jump g${ep.egress}`);
    }
    for (const g of n.policy!.groups) lines.push(...groupBody(g));
  }
  const els = (xs: string[]) => (xs.length ? ` elements = { ${xs.join(', ')} };` : '');
  return [
    `  set guarded { type ether_addr;${els([...guarded].sort())} }`,
    `  map to_vm { type ether_addr : verdict;${els(ingress)} }`,
    `  map from_vm { type ether_addr : verdict;${els(egress)} }`,
    ...lines,
    '  chain forward {',
    '    type filter hook forward priority 0; policy accept;',
    '    ether type arp accept',
    '    ether saddr != @guarded ether daddr != @guarded accept',
    '    udp sport 68 udp dport 67 accept',
    '    udp sport 67 udp dport 68 accept',
    '    ip daddr . ip saddr . meta l4proto . th dport . th sport @flows accept',
    '    icmp type echo-reply ip daddr . ip saddr . icmp id @iflows accept',
    '    iifname != "vxl*" ether saddr vmap @from_vm',
    '    oifname != "vxl*" ether daddr vmap @to_vm',
    '    meta l4proto { tcp, udp, sctp } update @flows { ip saddr . ip daddr . meta l4proto . th sport . th dport }',
    '    icmp type echo-request update @iflows { ip saddr . ip daddr . icmp id }',
    '  }',
  ];
}

const fnv = fnv1aHex;

/** The hash of the desired content, kept as the comment of the forward chain's first rule. */
export const policyDigest = (body: string[]) => `policy#${fnv(body.join('\n'))}`;

/** The one transaction turning the observed table into the desired one (nothing when already equal). */
export function planPolicyTable(observed: ObservedTable | undefined, intent: NodeIntent): Change[] {
  const body = policyTableBody(intent);
  // Its own phase, right after the VTEP filter: a separate transaction, before any device or FDB change.
  const mk = (script: string, reason: string): Change => ({ tool: 'nft', args: [script], phase: Phase.filter + 1, reason });
  if (!body) return observed ? [mk(`delete table ${T}`, 'no policy applies on this node')] : [];
  const digest = policyDigest(body);
  const fwd = observed?.chains.find((c) => c.name === 'forward');
  if (fwd && fwd.rules[0] === digest) return [];
  // Stamp the digest on the first rule (ARP accept) of the forward chain.
  const stamped = body.map((l) => (l === '    ether type arp accept' ? `    ether type arp accept comment "${digest}"` : l));
  const script = [`add table ${T}`, ...FLOW_SETS.map((s) => `add ${s.replace(/^set (\w+)/, `set ${T} $1`)}`)];
  if (observed) {
    for (const c of observed.chains) script.push(`flush chain ${T} ${c.name}`);
    for (const m of ["to_vm", "from_vm"]) script.push(`delete map ${T} ${m}`);
    for (const c of observed.chains) script.push(`delete chain ${T} ${c.name}`);
    for (const s of observed.sets) if (!FLOW_SET_NAMES.has(s.name) && !["to_vm", "from_vm"].includes(s.name)) script.push(`delete set ${T} ${s.name}`);
  }
  script.push(`table ${T} {`, ...stamped, '}');
  return [mk(script.join('\n'), observed ? 'policy table differs' : 'policy table missing')];
}
