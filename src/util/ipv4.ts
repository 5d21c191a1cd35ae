/** IPv4 arithmetic on unsigned 32-bit integers. Pure. */

/**
 * Dotted quad -> integer. Parsed by hand: intent sorts endpoints with it (2·N·log N calls per pass, a
 * quarter-second at 100k with split/map). Anything but four plain 0–255 parts takes the general path,
 * so odd input gives what it always gave.
 */
export function ipToInt(ip: string): number {
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i);
    if (c === 0x2e && digits && part <= 255) {
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 0x30 && c <= 0x39 && digits < 3) {
      part = part * 10 + (c - 0x30);
      digits++;
    } else return ipToIntGeneral(ip);
  }
  return dots === 3 && digits && part <= 255 ? n * 256 + part : ipToIntGeneral(ip);
}

function ipToIntGeneral(ip: string): number {
  const p = ip.split('.').map(Number);
  return (((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!) >>> 0;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

export interface Cidr {
  /** Network address as integer. */
  network: number;
  prefixLen: number;
  /** Number of addresses in the block. */
  size: number;
}

export function parseCidr(cidr: string): Cidr {
  const [ip, len] = cidr.split('/');
  const prefixLen = Number(len);
  const mask = prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
  return { network: (ipToInt(ip!) & mask) >>> 0, prefixLen, size: 2 ** (32 - prefixLen) };
}

export function formatCidr(c: Cidr): string {
  return `${intToIp(c.network)}/${c.prefixLen}`;
}

export function cidrContains(c: Cidr, ip: string | number): boolean {
  const n = typeof ip === 'string' ? ipToInt(ip) : ip;
  return n >= c.network && n < c.network + c.size;
}

/** True when the address is the network or broadcast address of a block that has both (prefix ≤ 30). */
export function isNetworkOrBroadcast(c: Cidr, ip: string | number): boolean {
  if (c.prefixLen > 30) return false;
  const n = typeof ip === 'string' ? ipToInt(ip) : ip;
  return n === c.network || n === c.network + c.size - 1;
}

/** First usable host: network + 1 (or the network itself for /31 and /32). */
export function firstHost(c: Cidr): string {
  return intToIp(c.prefixLen >= 31 ? c.network : c.network + 1);
}

/** Usable host range [first, last] as integers. */
export function hostRange(c: Cidr): [number, number] {
  if (c.prefixLen >= 31) return [c.network, c.network + c.size - 1];
  return [c.network + 1, c.network + c.size - 2];
}

/** The directed broadcast address of a CIDR (255.255.255.255 for /31 and /32, which have none). */
export function directedBroadcast(cidr: string): string {
  const c = parseCidr(cidr);
  return c.prefixLen >= 31 ? '255.255.255.255' : intToIp(c.network + c.size - 1);
}
