/**
 * Kernel mode's per-VNI replication budget: broadcast/multicast frames the bridge hands to `vxl<vni>`
 * (which head-end replicates them to every peer holding the VNI) are limited per VNI to the rate and
 * burst bpf mode's vxm_bcast allows (abi.ts BCAST_RATE_PPS/BCAST_BURST), the excess counted and dropped,
 * so one tenant's ARP/broadcast storm cannot take the underlay from the others. Local delivery inside the
 * VNI is not limited. One table `bridge vxmesh_flood`, one rule per VNI; kernel mode owns it. Pure.
 */
import type { NodeIntent } from '../../intent/types.js';
import { chain, type NftTableSpec } from '../netlink/nft.js';
import { names } from '../names.js';
import { BCAST_BURST, BCAST_RATE_PPS } from '../bpf/abi-constants.js';

export const FLOOD_TABLE = 'vxmesh_flood';

export function floodLimitTable(intent: NodeIntent): NftTableSpec | undefined {
  const vnis = [...new Set(intent.clusterNetworks.flatMap((cn) => cn.networks.map((n) => n.vni)))].sort((a, b) => a - b);
  if (vnis.length === 0) return undefined;
  return {
    family: 'bridge',
    name: FLOOD_TABLE,
    sets: [],
    chains: [
      chain('filter', 'forward', 0, vnis.map((vni) => ({
        id: `bcast:${vni}`,
        text: `oifname "${names.vxlan(vni)}" ether daddr & 01:00:00:00:00:00 == 01:00:00:00:00:00 limit rate over ${BCAST_RATE_PPS}/second burst ${BCAST_BURST} packets counter drop`,
      }))),
    ],
  };
}
