/**
 * The policy verdict of a connection's first packet, from the same NetworkPolicyIntent both dataplanes
 * enforce: the sender's egress group (if it is selected for egress) must allow the destination, and the
 * receiver's ingress group (if selected for ingress) must allow the source. Replies are not judged here:
 * both dataplanes let a recorded flow's replies through. Pure; the lab's expected matrix and (later)
 * `vxmesh trace` answer from it.
 */
import type { IpRange, NetworkPolicyIntent, PolicyDirection, PolicyGroup, PolicyRule } from './policy-types.js';
import { ipToInt } from '../util/ipv4.js';

export type Probe4 = { protocol: 'tcp' | 'udp' | 'sctp'; port: number } | { protocol: 'icmp' };

export type PolicyVerdict =
  | { allowed: true }
  | {
    allowed: false;
    direction: PolicyDirection;
    /** The VM whose group refused it ("<vm>/<iface>" as the intent names it). */
    vm: string;
    /** "<namespace>/<name>" of the policies selecting that VM in that direction. */
    policies: string[];
  };

const inRanges = (ranges: IpRange[], ip: number) => ranges.some((r) => ip >= r.from && ip <= r.to);

/** Does one rule of a group allow `peer` (the other end) with `probe`? */
export function ruleAllows(rule: PolicyRule, peer: string, probe: Probe4): boolean {
  if (!inRanges(rule.peers, ipToInt(peer))) return false;
  if (rule.ports === undefined) return true;
  if (probe.protocol === 'icmp') return false;
  return rule.ports.some((p) => p.protocol === probe.protocol && probe.port >= p.from && probe.port <= p.to);
}

const groupAllows = (g: PolicyGroup | undefined, peer: string, probe: Probe4) => !g || g.rules.some((r) => ruleAllows(r, peer, probe));

/**
 * The verdict for a first packet from `src` to `dst` on one network: `src` is an endpoint (by MAC),
 * `dst` an endpoint, the gateway or an outside address (then only the sender's egress applies).
 */
export function policyVerdict(np: NetworkPolicyIntent | undefined, src: { mac: string; ip: string }, dst: { mac?: string; ip: string }, probe: Probe4): PolicyVerdict {
  if (!np) return { allowed: true };
  const group = (id: number | undefined) => (id === undefined ? undefined : np.groups.find((g) => g.id === id));
  const from = np.endpoints.find((e) => e.mac.toLowerCase() === src.mac.toLowerCase());
  const egress = group(from?.egress);
  if (from && egress && !groupAllows(egress, dst.ip, probe)) return { allowed: false, direction: 'egress', vm: `${from.vm}/${from.iface}`, policies: egress.policies };
  const to = np.endpoints.find((e) => (dst.mac ? e.mac.toLowerCase() === dst.mac.toLowerCase() : e.ip === dst.ip));
  const ingress = group(to?.ingress);
  if (to && ingress && !groupAllows(ingress, src.ip, probe)) return { allowed: false, direction: 'ingress', vm: `${to.vm}/${to.iface}`, policies: ingress.policies };
  return { allowed: true };
}

/** "denied by tenant-a/db-only (ingress of vm-db/nic1)". */
export function describeDenial(v: Extract<PolicyVerdict, { allowed: false }>): string {
  return `denied by ${v.policies.join(', ')} (${v.direction} of ${v.vm})`;
}
