/**
 * DHCP never crosses the underlay (kernel mode): a VM's broadcast DISCOVER would flood from vxb<vni> to
 * vxl<vni> and out of the tunnel to every peer, where another node's server (same gateway address) could
 * answer it. The bridge-family table `vxmesh_dhcp` in the node namespace drops DHCP (UDP 67/68) bridged
 * to or from any vxl* port, so each VM is answered by the server of the node it runs on and by no other.
 * Replaced atomically like every vxmesh table. In bpf mode there are no vxl ports (the from-VM program
 * does not replicate DHCP); the table is kept in both modes so a mode switch never opens a gap. Pure.
 */
import { chain, type NftTableSpec } from '../netlink/nft.js';

export const DHCP_FILTER_TABLE = 'vxmesh_dhcp';

export function dhcpFilterTable(): NftTableSpec {
  return {
    family: 'bridge',
    name: DHCP_FILTER_TABLE,
    sets: [],
    chains: [
      chain('filter', 'forward', 0, [
        { id: 'dhcp-to-tunnel', text: 'oifname "vxl*" udp dport { 67, 68 } drop' },
        { id: 'dhcp-from-tunnel', text: 'iifname "vxl*" udp dport { 67, 68 } drop' },
      ]),
    ],
  };
}
