/**
 * Who holds a VNI: head-end replication (bpf vxm_flood, kernel-mode all-zero FDB entries) goes only to
 * the peers that run a VM of the network or receive one by live migration, not to every member of the
 * cluster network: a node without the VNI gets none of its broadcasts. Pure.
 */
import type { ClusterNetworkIntent, NetworkIntent } from './types.js';

/** Peer VTEPs (a subset of cn.peers, in its order) that hold network `n`: an endpoint runs there or migrates there. */
export function floodVteps(cn: ClusterNetworkIntent, n: NetworkIntent): string[] {
  const holding = new Set<string>();
  for (const e of n.endpoints) {
    holding.add(e.vtep);
    if (e.migratingTo) holding.add(e.migratingTo.vtep);
  }
  holding.delete(cn.localVtep);
  return [...new Set(cn.peers)].filter((p) => holding.has(p));
}

/**
 * True when network `n` needs this node's router (gateway, NAT, DHCP): a VM of it runs here or is
 * arriving by live migration (the target gets its router before the switchover: KubeVirt names the
 * target node while memory is copied).
 */
export function hostsNetwork(n: NetworkIntent): boolean {
  return n.endpoints.some((e) => e.local || e.arriving === true);
}
