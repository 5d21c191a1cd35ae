/**
 * The VTEP filter: VxLAN for one of a cluster network's VNIs, addressed to this node (any interface: a
 * kernel vxlan socket listens on every address), from an address that is not a member VTEP of THAT
 * cluster network is dropped before conntrack (a kernel vxlan device decapsulates frames from anyone, and
 * cluster networks sharing a UDP port share its socket). The VNI is read from the VxLAN header
 * (`@th,96,24`: UDP header 8 bytes + flags/reserved 4). One table `inet vxmesh_vtep`, a named set of peer
 * VTEPs per cluster network updated in place (a VNI added or removed rewrites the table atomically).
 * VNIs without a device here are dropped by the kernel itself. Kernel mode owns it; retire() removes it. Pure.
 */
import type { NodeIntent } from '../../intent/types.js';
import { chain, type NftTableSpec } from '../netlink/nft.js';

export const VTEP_TABLE = 'vxmesh_vtep';

export function vtepSetName(clusterNetwork: string): string {
  return `vteps_${clusterNetwork.replace(/[^A-Za-z0-9_]/g, '_')}`.slice(0, 60);
}

export function vtepFilterTable(intent: NodeIntent): NftTableSpec | undefined {
  const cns = intent.clusterNetworks.filter((cn) => Number.isInteger(cn.port));
  if (cns.length === 0) return undefined;
  return {
    family: 'inet',
    name: VTEP_TABLE,
    sets: cns.map((cn) => ({ name: vtepSetName(cn.name), type: 'ipv4_addr', elements: [...new Set(cn.peers)].sort() })),
    // Before conntrack (priority -300): a stranger's VxLAN packet never gets a conntrack entry.
    chains: [
      chain('filter', 'prerouting', -300, cns.filter((cn) => cn.networks.length > 0).map((cn) => ({
        id: `vtep:${cn.name}`,
        text: `udp dport ${cn.port} fib daddr type local @th,96,24 { ${[...new Set(cn.networks.map((n) => n.vni))].sort((a, b) => a - b).join(', ')} } ip saddr != @${vtepSetName(cn.name)} counter drop`,
      }))),
    ],
  };
}
