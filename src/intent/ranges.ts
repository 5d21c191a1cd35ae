/** Range arithmetic for policies: CIDR minus excepts, merging, splitting back into prefixes. Pure. */
import { parseCidr } from '../util/ipv4.js';
import type { IpRange, PortRange } from './policy-types.js';

export const ANY_IP: IpRange = { from: 0, to: 0xffffffff };

export function cidrRange(cidr: string): IpRange {
  const c = parseCidr(cidr);
  return { from: c.network, to: c.network + c.size - 1 };
}

/** Sorted, merged (overlapping or adjacent ranges joined). */
export function mergeRanges(rs: IpRange[]): IpRange[] {
  const sorted = [...rs].sort((a, b) => a.from - b.from);
  const out: IpRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.from <= last.to + 1) last.to = Math.max(last.to, r.to);
    else out.push({ ...r });
  }
  return out;
}

/** `base` minus every range of `cut`. */
export function subtractRanges(base: IpRange[], cut: IpRange[]): IpRange[] {
  let cur = mergeRanges(base);
  for (const c of mergeRanges(cut)) {
    const next: IpRange[] = [];
    for (const r of cur) {
      if (c.to < r.from || c.from > r.to) next.push(r);
      else {
        if (r.from < c.from) next.push({ from: r.from, to: c.from - 1 });
        if (r.to > c.to) next.push({ from: c.to + 1, to: r.to });
      }
    }
    cur = next;
  }
  return cur;
}

/** The smallest list of prefixes covering exactly [from, to]. */
export function rangeToPrefixes(r: IpRange): Array<{ network: number; prefixLen: number }> {
  const out: Array<{ network: number; prefixLen: number }> = [];
  let start = r.from;
  while (start <= r.to) {
    let size = start === 0 ? 2 ** 32 : 2 ** Math.min(32, ctz(start));
    while (start + size - 1 > r.to) size /= 2;
    out.push({ network: start, prefixLen: 32 - Math.log2(size) });
    start += size;
    if (start > 0xffffffff) break;
  }
  return out;
}

function ctz(n: number): number {
  let c = 0;
  while (c < 32 && n % 2 === 0) {
    n /= 2;
    c++;
  }
  return c;
}

/** Per protocol: sorted, merged port ranges. */
export function mergePorts(ps: PortRange[]): PortRange[] {
  const out: PortRange[] = [];
  for (const protocol of ['tcp', 'udp', 'sctp'] as const) {
    const merged = mergeRanges(ps.filter((p) => p.protocol === protocol).map((p) => ({ from: p.from, to: p.to })));
    for (const m of merged) out.push({ protocol, from: m.from, to: m.to });
  }
  return out;
}
