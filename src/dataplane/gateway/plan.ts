/**
 * The shared gateway (both modes), Neutron-qrouter style because there is no VRF: per network with a VM on
 * this node (or arriving: networks.ts routedNetworks) a router namespace `vxmr-<node>-<vni>` joined to the
 * node by two veth pairs, `vxg<vni>` (bridge port) <-> `gw0`
 * (gateway IP + MAC, the same on every node) and `vxo<vni>` <-> `up0` on a /30 transit. Pure: observed
 * state and intent in, ordered Change[] out; nothing that is already right is touched.
 */
import type { NodeIntent } from '../../intent/types.js';
import type { LinkInfo } from '../netlink/link.js';
import type { RouteEntry } from '../netlink/route.js';
import type { NodeObserved } from '../netlink/observe.js';
import { findTable, planTable, type ObservedTable } from '../netlink/nft.js';
import { Phase, type Change } from '../netlink/change.js';
import { IP_FORWARD } from '../netlink/sysctl.js';
import { names } from '../names.js';
import { routedNetworks, vniOf, type LocalNetwork } from './networks.js';
import { allocateTransits, transit, transitIndexOf, type Transit } from './transit.js';
import { nodeGatewayTable, routerTable, GATEWAY_TABLE } from './nft-rules.js';
import { gatewayGuard, type GatewayGuard } from './guard.js';
import { ipv6Silence, namespaceHasIpv6 } from '../netlink/ipv6-silence.js';

export interface RouterObserved {
  ns: string;
  vni: number;
  links: LinkInfo[];
  routes: RouteEntry[];
  ipForward?: string;
  tables: ObservedTable[];
  /** Set when the namespace exists but could not be read: the plan leaves it (and its legs) alone. */
  error?: string;
}

export interface GatewayObserved {
  node: NodeObserved;
  routers: RouterObserved[];
}

/** VNI -> transit slot currently held on this node (router up0 first, else the node's vxo). */
export function observedTransits(obs: GatewayObserved): Map<number, number> {
  const out = new Map<number, number>();
  for (const r of obs.routers) {
    const up = r.links.find((l) => l.name === names.routerUplink);
    const slot = up?.addrs.map(transitIndexOf).find((x) => x !== undefined);
    if (slot !== undefined) out.set(r.vni, slot);
  }
  for (const l of obs.node.links) {
    const vni = vniOf(l.name, 'vxo');
    if (vni === undefined || out.has(vni)) continue;
    const slot = l.addrs.map(transitIndexOf).find((x) => x !== undefined);
    if (slot !== undefined) out.set(vni, slot);
  }
  return out;
}

export function planGateways(obs: GatewayObserved, intent: NodeIntent): Change[] {
  const nets = routedNetworks(intent);
  const slots = allocateTransits(nets.map((n) => n.vni), observedTransits(obs));
  const guard = gatewayGuard(intent, obs.node.links);
  const unreadable = new Set(obs.routers.filter((r) => r.error !== undefined).map((r) => r.vni));
  const out: Change[] = [];
  for (const n of nets) {
    // An unreadable router is an error of this pass (routerObserveErrors), never planned as empty.
    if (unreadable.has(n.vni)) continue;
    out.push(...planRouter(obs, intent.node, n, transit(slots.get(n.vni)!), guard));
  }
  out.push(...planNodeShared(obs, nets, guard));
  out.push(...planStale(obs, new Set(nets.map((n) => n.vni)), unreadable));
  return out;
}

/** One error per router namespace this pass could not read (its network, when the intent has it). */
export function routerObserveErrors(obs: GatewayObserved, intent: NodeIntent): Array<{ network?: string; vni: number; message: string }> {
  const keyOf = new Map(intent.clusterNetworks.flatMap((cn) => cn.networks.map((n) => [n.vni, n.key] as const)));
  return obs.routers.flatMap((r) => (r.error === undefined ? [] : [{
    vni: r.vni, network: keyOf.get(r.vni), message: `router namespace ${r.ns} unreadable, left as it is: ${r.error}`,
  }]));
}

function planRouter(obs: GatewayObserved, node: string, n: LocalNetwork, t: Transit, guard: GatewayGuard): Change[] {
  const out: Change[] = [];
  const vni = n.vni;
  const ns = names.routerNetns(node, vni);
  const r = obs.routers.find((x) => x.vni === vni);
  const nodeCh = (phase: number, args: string[], reason: string): Change => ({ tool: 'ip', args, vni, phase, reason });
  const rCh = (args: string[], reason: string): Change => ({ tool: 'ip', args, ns, vni, phase: Phase.router, reason });
  if (!r) out.push({ tool: 'netns', args: ['add', ns], vni, phase: Phase.netnsAdd, reason: 'router namespace missing' });
  const rLinks = new Map((r?.links ?? []).map((l) => [l.name, l]));
  const nLinks = new Map(obs.node.links.map((l) => [l.name, l]));

  // Node-side ends; a veth end whose peer is gone is recreated as a pair.
  const legs: Array<{ node: string; inner: string; master?: string; mtu?: number; addr?: string }> = [
    { node: names.gatewayPort(vni), inner: names.routerInner, master: names.bridge(vni), mtu: n.mtu },
    { node: names.routerOuter(vni), inner: names.routerUplink, addr: t.nodeAddr },
  ];
  const fresh = new Set<string>();
  const ipv6 = namespaceHasIpv6(obs.node.links);
  for (const leg of legs) {
    let have = nLinks.get(leg.node);
    if (have && !rLinks.has(leg.inner)) {
      out.push(nodeCh(Phase.links, ['link', 'del', leg.node], `${leg.inner} missing in router`));
      have = undefined;
    }
    if (!have) {
      const mtu = leg.mtu ? ['mtu', String(leg.mtu)] : [];
      out.push(nodeCh(Phase.links, ['link', 'add', leg.node, ...mtu, 'type', 'veth', 'peer', 'name', leg.inner, 'netns', ns, ...mtu], 'veth missing'));
      fresh.add(leg.inner);
      if (leg.master) out.push(nodeCh(Phase.links, ['link', 'set', leg.node, 'master', leg.master], 'veth missing'));
      if (leg.addr) out.push(nodeCh(Phase.links, ['addr', 'add', leg.addr, 'dev', leg.node], 'veth missing'));
      for (const a of ipv6Silence(leg.node, undefined, ipv6)) out.push(nodeCh(Phase.links, a, 'veth missing'));
      out.push(nodeCh(Phase.links, ['link', 'set', leg.node, 'up'], 'veth missing'));
      continue;
    }
    for (const a of ipv6Silence(leg.node, have, ipv6, !have.up)) out.push(nodeCh(Phase.links, a, 'veth speaks IPv6'));
    if (leg.mtu && have.mtu !== leg.mtu) out.push(nodeCh(Phase.links, ['link', 'set', leg.node, 'mtu', String(leg.mtu)], `mtu differs: ${have.mtu} -> ${leg.mtu}`));
    if (leg.master && have.master !== leg.master) out.push(nodeCh(Phase.links, ['link', 'set', leg.node, 'master', leg.master], `master differs: ${have.master ?? 'none'} -> ${leg.master}`));
    if (leg.addr) out.push(...addrChanges(have.addrs, leg.addr, leg.node, (a, why) => nodeCh(Phase.links, a, why)));
    if (!have.up) out.push(nodeCh(Phase.links, ['link', 'set', leg.node, 'up'], 'link down'));
  }

  // Router side.
  const lo = rLinks.get('lo');
  if (!lo?.up) out.push(rCh(['link', 'set', 'lo', 'up'], 'lo down'));
  const gw = fresh.has(names.routerInner) ? undefined : rLinks.get(names.routerInner);
  const gwMac = n.gatewayMac.toLowerCase();
  if (gw?.mac?.toLowerCase() !== gwMac) out.push(rCh(['link', 'set', names.routerInner, 'address', gwMac], 'gateway MAC differs'));
  if (gw && gw.mtu !== n.mtu) out.push(rCh(['link', 'set', names.routerInner, 'mtu', String(n.mtu)], `gw0 mtu differs: ${gw.mtu} -> ${n.mtu}`));
  out.push(...addrChanges(gw?.addrs ?? [], `${n.gateway}/${n.prefixLen}`, names.routerInner, rCh));
  for (const a of ipv6Silence(names.routerInner, gw, ipv6, !gw?.up)) out.push(rCh(a, 'gw0 speaks IPv6'));
  if (!gw?.up) out.push(rCh(['link', 'set', names.routerInner, 'up'], 'gw0 down'));
  const up = fresh.has(names.routerUplink) ? undefined : rLinks.get(names.routerUplink);
  out.push(...addrChanges(up?.addrs ?? [], t.routerAddr, names.routerUplink, rCh));
  for (const a of ipv6Silence(names.routerUplink, up, ipv6, !up?.up)) out.push(rCh(a, 'up0 speaks IPv6'));
  if (!up?.up) out.push(rCh(['link', 'set', names.routerUplink, 'up'], 'up0 down'));
  const def = r?.routes.find((x) => x.dst === 'default');
  if (!up || def?.via !== t.nodeIp || def?.dev !== names.routerUplink) {
    out.push(rCh(['route', 'replace', 'default', 'via', t.nodeIp, 'dev', names.routerUplink], 'default route differs'));
  }
  if (r?.ipForward !== '1') out.push({ tool: 'sysctl', args: [IP_FORWARD, '1'], ns, vni, phase: Phase.sysctl, reason: 'ip_forward off' });
  out.push(...planTable(r ? findTable(r.tables, 'inet', GATEWAY_TABLE) : undefined, routerTable(n.natOutgoing, guard), { ns, vni }));

  // Pin the gateway MAC to the local gateway leg so frames for it never flood to the overlay.
  const vxg = names.gatewayPort(vni);
  const pinned = !fresh.has(names.routerInner) && obs.node.fdb.some((e) => e.dev === vxg && !e.self && e.mac === gwMac && e.state === 'static');
  if (!pinned) out.push({ tool: 'bridge', args: ['fdb', 'replace', gwMac, 'dev', vxg, 'master', 'static'], vni, phase: Phase.fdb, reason: 'gateway MAC not pinned' });
  return out;
}

function addrChanges(have: string[], want: string, dev: string, ch: (args: string[], why: string) => Change): Change[] {
  const out: Change[] = [];
  for (const a of have) if (a !== want) out.push(ch(['addr', 'del', a, 'dev', dev], `stale address ${a}`));
  if (!have.includes(want)) out.push(ch(['addr', 'add', want, 'dev', dev], 'address missing'));
  return out;
}

function planNodeShared(obs: GatewayObserved, nets: LocalNetwork[], guard: GatewayGuard): Change[] {
  const out: Change[] = [];
  if (nets.length > 0 && obs.node.ipForward !== '1') {
    out.push({ tool: 'sysctl', args: [IP_FORWARD, '1'], phase: Phase.sysctl, reason: 'ip_forward off' });
  }
  const uplinks = [...new Set(nets.map((n) => n.uplink))].sort();
  const desired = nets.length > 0 ? nodeGatewayTable(uplinks, guard) : undefined;
  out.push(...planTable(findTable(obs.node.tables, 'inet', GATEWAY_TABLE), desired));
  return out;
}

function planStale(obs: GatewayObserved, wanted: Set<number>, unreadable: Set<number>): Change[] {
  const out: Change[] = [];
  const routerVnis = new Set(obs.routers.map((r) => r.vni));
  for (const r of obs.routers) {
    if (!wanted.has(r.vni) && !unreadable.has(r.vni)) out.push({ tool: 'netns', args: ['del', r.ns], vni: r.vni, phase: Phase.netnsDel, reason: 'network left the intent' });
  }
  for (const l of obs.node.links) {
    const vni = vniOf(l.name, 'vxg') ?? vniOf(l.name, 'vxo');
    if (vni === undefined || wanted.has(vni) || routerVnis.has(vni)) continue;
    out.push({ tool: 'ip', args: ['link', 'del', l.name], vni, phase: Phase.linkDel, reason: 'network left the intent' });
  }
  return out;
}
