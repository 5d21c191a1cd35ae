/**
 * MultiNetworkPolicy -> per-network policy intent. Pure. NetworkPolicy semantics:
 *  - a policy applies to the VxlanNetworks its `k8s.v1.cni.cncf.io/policy-for` annotation names (a name
 *    without namespace is in the policy's namespace) and selects, by `spec.podSelector` over VMI labels,
 *    the VMs of its own namespace with a NIC on that network;
 *  - policyTypes default to Ingress, plus Egress when `spec.egress` is present;
 *  - an endpoint selected by no policy for a direction is open in that direction; once selected, only
 *    the union of the selecting policies' rules passes (replies are the dataplanes' job: stateful);
 *  - peers: podSelector/namespaceSelector select VMs of the same network by their overlay IP (namespace
 *    labels from Namespace objects plus `kubernetes.io/metadata.name`); ipBlock is an address range
 *    (cidr minus except) matched against the packet's address, whatever it is; no peers = any address;
 *    no ports = every protocol and port.
 * Endpoints with the same selecting policies share one group (one chain / one LPM id in the dataplanes).
 * An invalid policy without a last good version arrives as its deny-all stand-in (sources/policy-fallback.ts):
 * no rules, policy-for possibly `*` (every network); it compiles like any other, so its VMs are closed.
 */
import { keyOf, POLICY_FOR_ANNOTATION, type MultiNetworkPolicy, type Snapshot } from '../model/schema.js';
import { ipToInt } from '../util/ipv4.js';
import { ANY_IP, cidrRange, mergePorts, mergeRanges, subtractRanges } from './ranges.js';
import type { NetworkPolicyIntent, PolicyDirection, PolicyEndpoint, PolicyGroup, PolicyRule, PortRange } from './policy-types.js';
import type { EndpointIntent } from './types.js';

type Selector = { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> };
type Peer = { podSelector?: Selector; namespaceSelector?: Selector; ipBlock?: { cidr: string; except: string[] } };
type Port = { protocol: 'TCP' | 'UDP' | 'SCTP'; port?: number; endPort?: number };

export function matchesSelector(sel: Selector | undefined, labels: Record<string, string>): boolean {
  if (!sel) return true;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = e.key in labels;
    const inValues = has && (e.values ?? []).includes(labels[e.key]!);
    const ok = e.operator === 'In' ? inValues : e.operator === 'NotIn' ? !inValues : e.operator === 'Exists' ? has : !has;
    if (!ok) return false;
  }
  return true;
}

/** The network keys a policy applies to; `*` (an invalid policy's stand-in, sources/policy-fallback.ts): every network. */
export function policyNetworks(p: MultiNetworkPolicy): string[] {
  const ns = p.metadata.namespace ?? 'default';
  const v = p.metadata.annotations?.[POLICY_FOR_ANNOTATION] ?? '';
  if (v.trim() === '*') return ['*'];
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((n) => (n.includes('/') ? n : `${ns}/${n}`));
}

export function policyTypes(p: MultiNetworkPolicy): PolicyDirection[] {
  const t = p.spec.policyTypes ?? (p.spec.egress ? ['Ingress', 'Egress'] : ['Ingress']);
  return (['ingress', 'egress'] as const).filter((d) => t.includes(d === 'ingress' ? 'Ingress' : 'Egress'));
}

interface Ctx {
  vmLabels: Map<string, Record<string, string>>;
  nsLabels: Map<string, Record<string, string>>;
}

function context(snapshot: Snapshot): Ctx {
  const nsLabels = new Map<string, Record<string, string>>();
  for (const n of snapshot.namespaces) nsLabels.set(n.metadata.name, { ...(n.metadata.labels ?? {}), 'kubernetes.io/metadata.name': n.metadata.name });
  return { vmLabels: new Map(snapshot.vmis.map((v) => [keyOf(v), v.metadata.labels ?? {}])), nsLabels };
}

const nsOf = (vm: string) => vm.split('/')[0]!;

function nsLabelsOf(ctx: Ctx, ns: string): Record<string, string> {
  return ctx.nsLabels.get(ns) ?? { 'kubernetes.io/metadata.name': ns };
}

function selects(p: MultiNetworkPolicy, ep: PeerCandidate): boolean {
  return ep.ns === (p.metadata.namespace ?? 'default') && matchesSelector(p.spec.podSelector, ep.labels);
}

/** An endpoint as peer matching needs it, computed once per network. */
interface PeerCandidate { ns: string; labels: Record<string, string>; ip: number }

function candidates(ctx: Ctx, endpoints: EndpointIntent[]): PeerCandidate[] {
  return endpoints.map((ep) => ({ ns: nsOf(ep.vm), labels: ctx.vmLabels.get(ep.vm) ?? {}, ip: ipToInt(ep.ip) }));
}

function peerRanges(ctx: Ctx, p: MultiNetworkPolicy, peers: Peer[] | undefined, endpoints: PeerCandidate[]) {
  if (!peers || peers.length === 0) return [ANY_IP];
  const out = [];
  const own = p.metadata.namespace ?? 'default';
  for (const peer of peers) {
    if (peer.ipBlock) {
      out.push(...subtractRanges([cidrRange(peer.ipBlock.cidr)], peer.ipBlock.except.map(cidrRange)));
      continue;
    }
    const nsOk = new Map<string, boolean>();
    for (const ep of endpoints) {
      let ok = nsOk.get(ep.ns);
      if (ok === undefined) {
        ok = peer.namespaceSelector ? matchesSelector(peer.namespaceSelector, nsLabelsOf(ctx, ep.ns)) : ep.ns === own;
        nsOk.set(ep.ns, ok);
      }
      if (ok && matchesSelector(peer.podSelector, ep.labels)) out.push({ from: ep.ip, to: ep.ip });
    }
  }
  return mergeRanges(out);
}

function portRanges(ports: Port[] | undefined): PortRange[] | undefined {
  if (!ports || ports.length === 0) return undefined;
  return mergePorts(ports.map((x) => {
    const protocol = x.protocol.toLowerCase() as PortRange['protocol'];
    return x.port === undefined ? { protocol, from: 1, to: 65535 } : { protocol, from: x.port, to: x.endPort ?? x.port };
  }));
}

function rulesOf(ctx: Ctx, p: MultiNetworkPolicy, dir: PolicyDirection, endpoints: PeerCandidate[]): PolicyRule[] {
  const key = keyOf(p);
  const rules = (dir === 'ingress' ? p.spec.ingress : p.spec.egress) ?? [];
  return rules.map((r, index) => ({
    policy: key,
    index,
    peers: peerRanges(ctx, p, (dir === 'ingress' ? (r as { from?: Peer[] }).from : (r as { to?: Peer[] }).to), endpoints),
    ports: portRanges(r.ports as Port[] | undefined),
  }));
}

/**
 * The policy intent of one network, or undefined when no policy selects any of its endpoints.
 * Group ids start at `firstId`; the caller numbers networks one after another.
 */
export function networkPolicy(snapshot: Snapshot, network: { key: string; vni: number; endpoints: EndpointIntent[] }, firstId: number): NetworkPolicyIntent | undefined {
  const policies = snapshot.policies.filter((p) => {
    const nets = policyNetworks(p);
    return nets.includes(network.key) || nets.includes('*');
  });
  if (policies.length === 0) return undefined;
  const ctx = context(snapshot);
  const peers = candidates(ctx, network.endpoints);
  const groups = new Map<string, PolicyGroup>();
  const endpoints: PolicyEndpoint[] = [];
  let next = firstId;
  const groupFor = (dir: PolicyDirection, selecting: MultiNetworkPolicy[]): number => {
    const names = selecting.map(keyOf).sort();
    const gk = `${dir}|${names.join(',')}`;
    let g = groups.get(gk);
    if (!g) {
      const rules = selecting.flatMap((p) => rulesOf(ctx, p, dir, peers));
      g = { id: next++, direction: dir, vni: network.vni, policies: names, rules };
      groups.set(gk, g);
    }
    return g.id;
  };
  for (const [i, ep] of network.endpoints.entries()) {
    const selecting = policies.filter((p) => selects(p, peers[i]!));
    const ing = selecting.filter((p) => policyTypes(p).includes('ingress'));
    const eg = selecting.filter((p) => policyTypes(p).includes('egress'));
    if (ing.length === 0 && eg.length === 0) continue;
    endpoints.push({
      vm: ep.vm, iface: ep.iface, mac: ep.mac.toLowerCase(), ip: ep.ip, local: ep.local,
      ...(ing.length ? { ingress: groupFor('ingress', ing) } : {}),
      ...(eg.length ? { egress: groupFor('egress', eg) } : {}),
    });
  }
  if (endpoints.length === 0) return undefined;
  endpoints.sort((a, b) => a.mac.localeCompare(b.mac));
  return { endpoints, groups: [...groups.values()].sort((a, b) => a.id - b.id) };
}
