/**
 * upgrade-fill.ts: the new maps of an upgrade (upgrade.ts), filled from the intent before any program uses
 * them: the flow-table shares first (so carried flows have a home), then the desired tables diffed against
 * what the staging maps already hold (reused maps: the running node's entries; migrated ones: the carried
 * entries, so what the programs learned, e.g. ARRIVING/MOVING promotions in vxm_endpoints, is kept the way
 * a normal pass keeps it). Refused entries and desired-table errors are left to the pass that follows,
 * which reconciles the same maps again and reports them against their networks.
 */
import type { NodeIntent } from '../../intent/types.js';
import type { LinkInfo } from '../netlink/link.js';
import { reconcileShares } from './ct-shares.js';
import { desiredMaps, diffMaps } from './desired.js';
import { nativeEncapFrom, nodeEnv } from './devices.js';
import { observedEndpoints } from './endpoints.js';
import { PinnedMaps } from './maps.js';

/** Returns the number of entries written. */
export function fillFromIntent(stagingDir: string, intent: NodeIntent, links: LinkInfo[], hash: number): number {
  const maps = PinnedMaps.open(stagingDir);
  try {
    const shares = reconcileShares(maps.fd('vxm_ct'), intent);
    const observed = maps.readState();
    const seen = observedEndpoints(observed.vxm_endpoints);
    const desired = desiredMaps(intent, { ...nodeEnv(links, hash, nativeEncapFrom(process.env)), localPorts: seen.ports, remoteVteps: seen.remotes });
    const changes = diffMaps(observed, desired.state);
    const refused = maps.apply(changes);
    return shares.changes + changes.length - refused.length;
  } finally {
    maps.close();
  }
}
