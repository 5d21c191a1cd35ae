/**
 * Transit /30s for the routers' outer legs, from 169.254.64.0/18 (4096 routers per node). Node side
 * `vxo<vni>` takes .1, the router's `up0` takes .2. An existing router keeps its /30 (renumbering would
 * break its conntrack/NAT state); a new router takes the lowest free one. Pure.
 */
export const TRANSIT_CIDR = '169.254.64.0/18';
const BASE = ipToInt('169.254.64.0');
const SLOTS = 4096;

export interface Transit {
  index: number;
  nodeIp: string;
  routerIp: string;
  /** CIDR forms for `ip addr`. */
  nodeAddr: string;
  routerAddr: string;
}

export function transit(index: number): Transit {
  const base = BASE + index * 4;
  const nodeIp = intToIp(base + 1);
  const routerIp = intToIp(base + 2);
  return { index, nodeIp, routerIp, nodeAddr: `${nodeIp}/30`, routerAddr: `${routerIp}/30` };
}

/** The slot an address (CIDR form, .1 or .2 of a /30 in the transit range) belongs to. */
export function transitIndexOf(addr: string): number | undefined {
  const [ip, len] = addr.split('/');
  if (len !== '30' || !ip) return undefined;
  const n = ipToInt(ip);
  if (Number.isNaN(n)) return undefined;
  const off = n - BASE;
  if (off < 0 || off >= SLOTS * 4) return undefined;
  const host = off % 4;
  return host === 1 || host === 2 ? Math.floor(off / 4) : undefined;
}

/**
 * Gives every wanted VNI a slot: its existing one when it has one (first VNI wins a clash), else the
 * lowest slot no other router holds. `existing` maps VNI -> slot seen on the node (routers that leave
 * the intent still hold theirs until they are deleted, so they are passed too).
 */
export function allocateTransits(wanted: number[], existing: Map<number, number>): Map<number, number> {
  const out = new Map<number, number>();
  const used = new Set<number>();
  for (const [vni, slot] of [...existing.entries()].sort((a, b) => a[0] - b[0])) {
    if (used.has(slot)) continue;
    used.add(slot);
    if (wanted.includes(vni)) out.set(vni, slot);
  }
  let next = 0;
  for (const vni of [...wanted].sort((a, b) => a - b)) {
    if (out.has(vni)) continue;
    while (used.has(next)) next++;
    if (next >= SLOTS) throw new Error(`no free transit /30 in ${TRANSIT_CIDR} for vni ${vni}`);
    used.add(next);
    out.set(vni, next);
  }
  return out;
}

export function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) return NaN;
  return ((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!;
}

export function intToIp(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}
