/**
 * Addresses used and available per VxlanNetwork, for the controller's metrics (and the address-pool alert).
 * Pure: read from the controller's informer caches at scrape time. A network whose spec does not validate is
 * left out (the controller reports it apart); used = distinct usable addresses held by VxlanIPAllocations of it.
 */
import { poolOf } from '../ipam/allocate.js';
import { keyOf, vxlanNetworkSchema, type VxlanNetwork } from '../model/schema.js';
import { ipToInt } from '../util/ipv4.js';

export interface AddressPool {
  /** `<namespace>/<name>`, as VxlanIPAllocation spec.network names it. */
  network: string;
  used: number;
  available: number;
}

interface RawObject { metadata?: { namespace?: string; name?: string }; spec?: unknown }

function usableCount(net: VxlanNetwork): number {
  const pool = poolOf(net);
  let n = 0;
  for (let a = pool.first; a <= pool.last; a++) if (pool.usable(a)) n++;
  return n;
}

export function addressPools(networks: RawObject[], allocations: RawObject[]): AddressPool[] {
  const held = new Map<string, Set<string>>();
  for (const a of allocations) {
    const s = a.spec as { network?: unknown; ip?: unknown } | undefined;
    if (typeof s?.network !== 'string' || typeof s.ip !== 'string') continue;
    held.set(s.network, (held.get(s.network) ?? new Set()).add(s.ip));
  }
  const out: AddressPool[] = [];
  for (const raw of networks) {
    const parsed = vxlanNetworkSchema.safeParse(raw);
    if (!parsed.success) continue;
    const net = parsed.data;
    const pool = poolOf(net);
    const network = keyOf(net);
    const used = [...(held.get(network) ?? [])].filter((ip) => {
      try { return pool.usable(ipToInt(ip)); } catch { return false; }
    }).length;
    out.push({ network, used, available: usableCount(net) - used });
  }
  return out.sort((a, b) => a.network.localeCompare(b.network));
}
