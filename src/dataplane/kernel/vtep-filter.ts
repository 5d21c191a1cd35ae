/**
 * The VTEP filter: VxLAN UDP arriving on a cluster network's uplink from an address that is not a member
 * VTEP of that cluster network is dropped before conntrack (a kernel vxlan device decapsulates frames
 * from anyone). One table `inet vxmesh_vtep`, a named set of peer VTEPs per cluster network updated in
 * place. Kernel mode owns it; retire() removes it. Pure.
 */
import type { NodeIntent } from '../../intent/types.js';
import { chain, type NftTableSpec } from '../netlink/nft.js';
import { isSafeIfname } from '../gateway/nft-rules.js';

export const VTEP_TABLE = 'vxmesh_vtep';

export function vtepSetName(clusterNetwork: string): string {
  return `vteps_${clusterNetwork.replace(/[^A-Za-z0-9_]/g, '_')}`.slice(0, 60);
}

export function vtepFilterTable(intent: NodeIntent): NftTableSpec | undefined {
  const cns = intent.clusterNetworks.filter((cn) => isSafeIfname(cn.uplink) && Number.isInteger(cn.port));
  if (cns.length === 0) return undefined;
  return {
    family: 'inet',
    name: VTEP_TABLE,
    sets: cns.map((cn) => ({ name: vtepSetName(cn.name), type: 'ipv4_addr', elements: [...new Set(cn.peers)].sort() })),
    // Before conntrack (priority -300): a stranger's VxLAN packet never gets a conntrack entry.
    chains: [
      chain('filter', 'prerouting', -300, cns.map((cn) => ({
        id: `vtep:${cn.name}`,
        text: `iifname "${cn.uplink}" udp dport ${cn.port} ip saddr != @${vtepSetName(cn.name)} counter drop`,
      }))),
    ],
  };
}
