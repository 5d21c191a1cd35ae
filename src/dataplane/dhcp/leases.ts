/**
 * dnsmasq's lease file (`<expiry> <mac> <ip> <hostname|*> <client-id|*>` per line). dnsmasq will not hand
 * a configured address to a MAC while another MAC holds a lease on it ("not using configured address …
 * because it is leased to …"), and SIGHUP keeps leases. So when IPAM gives an address that an old lease
 * still holds (a VM deleted, its address reused on this node within the lease time), the server is
 * restarted with the conflicting leases pruned from the file. Pure.
 */
import type { DhcpBinding } from './spec.js';

export interface Lease {
  expiry: number;
  mac: string;
  ip: string;
  /** The line as read, written back as it was when the lease is kept. */
  line: string;
}

export function parseLeases(text: string): Lease[] {
  const out: Lease[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 3 || !/^\d+$/.test(f[0]!) || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(f[1]!)) continue;
    out.push({ expiry: Number(f[0]), mac: f[1]!.toLowerCase(), ip: f[2]!, line: line.trim() });
  }
  return out;
}

/** Leases on an address that the bindings give to another MAC. */
export function conflictingLeases(leases: Lease[], bindings: DhcpBinding[]): Lease[] {
  const owner = new Map(bindings.map((b) => [b.ip, b.mac.toLowerCase()]));
  return leases.filter((l) => {
    const want = owner.get(l.ip);
    return want !== undefined && want !== l.mac;
  });
}

/** The lease file without the conflicting leases. */
export function pruneLeases(text: string, bindings: DhcpBinding[]): string {
  const bad = new Set(conflictingLeases(parseLeases(text), bindings).map((l) => l.line));
  return text
    .split('\n')
    .filter((l) => l.trim() !== '' && !bad.has(l.trim()))
    .map((l) => `${l}\n`)
    .join('');
}
