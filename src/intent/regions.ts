/**
 * A policy group's allowed traffic as DISJOINT address regions, each with what it allows: everything
 * (`any`) or a list of merged port ranges. nftables interval sets with concatenations reject
 * overlapping elements, and a BPF LPM trie returns one longest match, so both dataplanes program
 * regions rather than the (overlapping) rules. Pure.
 */
import { mergePorts } from './ranges.js';
import type { IpRange, PolicyGroup, PortRange } from './policy-types.js';

export interface PolicyRegion extends IpRange {
  any: boolean;
  /** Merged per protocol; empty when `any`. */
  ports: PortRange[];
  /** The first rule's policy covering the region (verdict counters are kept per policy). */
  policy: string;
}

export function groupRegions(g: PolicyGroup): PolicyRegion[] {
  // Elementary intervals between every boundary of every rule's peer ranges.
  const cuts = new Set<number>();
  for (const r of g.rules) for (const p of r.peers) {
    cuts.add(p.from);
    if (p.to < 0xffffffff) cuts.add(p.to + 1);
  }
  const points = [...cuts].sort((a, b) => a - b);
  const out: PolicyRegion[] = [];
  for (let i = 0; i < points.length; i++) {
    const from = points[i]!;
    const to = i + 1 < points.length ? points[i + 1]! - 1 : 0xffffffff;
    const covering = g.rules.filter((r) => r.peers.some((p) => p.from <= from && p.to >= to));
    if (covering.length === 0) continue;
    const any = covering.some((r) => r.ports === undefined);
    const ports = any ? [] : mergePorts(covering.flatMap((r) => r.ports ?? []));
    const region: PolicyRegion = { from, to, any, ports, policy: covering[0]!.policy };
    const last = out[out.length - 1];
    if (last && last.to + 1 === from && last.any === any && last.policy === region.policy && samePorts(last.ports, ports)) last.to = to;
    else out.push(region);
  }
  return out;
}

function samePorts(a: PortRange[], b: PortRange[]): boolean {
  return a.length === b.length && a.every((p, i) => p.protocol === b[i]!.protocol && p.from === b[i]!.from && p.to === b[i]!.to);
}
