/**
 * The per-VNI bridges `vxb<vni>` (both modes): VM ports (bridge CNI), the gateway leg and, in kernel
 * mode, the vxlan device are its members. A bridge whose network left the intent goes only once no
 * port vxmesh does not own is left in it: a VM's port is never yanked. Pure.
 */
import type { NodeIntent } from '../../intent/types.js';
import type { LinkInfo } from '../netlink/link.js';
import { Phase, type Change } from '../netlink/change.js';
import { names, isOwnedDevice } from '../names.js';
import { localNetworks, vniOf } from './networks.js';
import { ipv6Silence, namespaceHasIpv6 } from '../netlink/ipv6-silence.js';

export function planBridges(links: LinkInfo[], intent: NodeIntent): Change[] {
  const out: Change[] = [];
  const byName = new Map(links.map((l) => [l.name, l]));
  const wanted = new Set<number>();
  const ipv6 = namespaceHasIpv6(links);
  for (const n of localNetworks(intent)) {
    wanted.add(n.vni);
    const br = names.bridge(n.vni);
    const have = byName.get(br);
    const ch = (args: string[], reason: string): Change => ({ tool: 'ip', args, vni: n.vni, phase: Phase.links, reason });
    if (!have) {
      out.push(ch(['link', 'add', br, 'mtu', String(n.mtu), 'type', 'bridge'], 'bridge missing'));
      for (const a of ipv6Silence(br, undefined, ipv6)) out.push(ch(a, 'bridge missing'));
      out.push(ch(['link', 'set', br, 'up'], 'bridge missing'));
      continue;
    }
    if (have.mtu !== n.mtu) out.push(ch(['link', 'set', br, 'mtu', String(n.mtu)], `bridge mtu differs: ${have.mtu} -> ${n.mtu}`));
    for (const a of ipv6Silence(br, have, ipv6, !have.up)) out.push(ch(a, 'bridge speaks IPv6'));
    if (!have.up) out.push(ch(['link', 'set', br, 'up'], 'bridge down'));
  }
  for (const l of links) {
    const vni = vniOf(l.name, 'vxb');
    if (vni === undefined || wanted.has(vni) || l.kind !== 'bridge') continue;
    const foreign = links.filter((p) => p.master === l.name && !isOwnedDevice(p.name));
    if (foreign.length > 0) continue;
    out.push({ tool: 'ip', args: ['link', 'del', l.name], vni, phase: Phase.linkDel, reason: 'network left the intent and bridge has no foreign ports' });
  }
  return out;
}
