/**
 * devices.ts: pure. The bpf mode's own devices and the node facts its maps derive from.
 *  - one collect-metadata vxlan device per VTEP port, names.externalVxlan(port) (`vxe0` for 4789):
 *    external, dstport, nolearning, MTU = uplink MTU - 50, up;
 *  - no per-VNI vxl<vni> devices: leftovers of kernel mode hold the UDP port and are deleted first;
 *  - VM ports = members of vxb<vni> vxmesh does not own, each with the VM NIC its alias binds it to
 *    (vm-ports.ts); never where the bridge learned a MAC.
 */
import type { NodeIntent } from '../../intent/types.js';
import type { LinkInfo } from '../netlink/link.js';
import { names } from '../names.js';
import { vmPortsByVni } from '../vm-ports.js';
import { ipv6Silence, namespaceHasIpv6 } from '../netlink/ipv6-silence.js';
import type { NodeEnv } from './desired.js';

export const VXLAN_OVERHEAD = 50;

export interface DeviceStep {
  argv: string[];
  reason: string;
}

/** Wanted vxe devices: name -> {port, mtu}. */
export function wantedVxe(intent: NodeIntent): Map<string, { port: number; mtu: number }> {
  const out = new Map<string, { port: number; mtu: number }>();
  for (const cn of intent.clusterNetworks) {
    const name = names.externalVxlan(cn.port);
    if (!out.has(name)) out.set(name, { port: cn.port, mtu: cn.uplinkMtu - VXLAN_OVERHEAD });
  }
  return out;
}

export function planDevices(links: LinkInfo[], intent: NodeIntent): DeviceStep[] {
  const steps: DeviceStep[] = [];
  const wanted = wantedVxe(intent);
  const ipv6 = namespaceHasIpv6(links);
  const silence = (name: string, have: LinkInfo | undefined, reason: string, upPlanned = false) =>
    ipv6Silence(name, have, ipv6, upPlanned).map((a) => ({ argv: ['ip', ...a], reason }));
  for (const l of links) {
    if (/^vxl\d+$/.test(l.name)) steps.push({ argv: ['ip', 'link', 'del', l.name], reason: 'per-VNI vxlan device of kernel mode holds the VTEP port' });
    if (/^vxe\d+$/.test(l.name) && !wanted.has(l.name)) steps.push({ argv: ['ip', 'link', 'del', l.name], reason: 'VTEP port no longer used' });
  }
  for (const [name, w] of wanted) {
    const have = links.find((l) => l.name === name);
    const create = [
      { argv: ['ip', 'link', 'add', name, 'mtu', String(w.mtu), 'type', 'vxlan', 'external', 'dstport', String(w.port), 'nolearning'], reason: `${name} missing` },
      ...silence(name, undefined, `${name} created`),
      { argv: ['ip', 'link', 'set', name, 'up'], reason: `${name} created` },
    ];
    if (!have) {
      steps.push(...create);
      continue;
    }
    const v = have.vxlan;
    if (have.kind !== 'vxlan' || !v || !v.external || v.port !== w.port || v.learning) {
      steps.push({ argv: ['ip', 'link', 'del', name], reason: `${name} attributes differ (external/dstport/learning)` }, ...create);
      continue;
    }
    if (have.mtu !== w.mtu) steps.push({ argv: ['ip', 'link', 'set', name, 'mtu', String(w.mtu)], reason: `${name} mtu ${have.mtu} -> ${w.mtu}` });
    steps.push(...silence(name, have, `${name} speaks IPv6`, !have.up));
    if (!have.up) steps.push({ argv: ['ip', 'link', 'set', name, 'up'], reason: `${name} down` });
  }
  return steps;
}

/** The node facts for desiredMaps() (the agent adds what vxm_endpoints holds now: localPorts, remoteVteps). */
export function nodeEnv(links: LinkInfo[], objectHash: number, nativeEncap = true): NodeEnv {
  const ifindex: Record<string, number> = {};
  for (const l of links) ifindex[l.name] = l.ifindex;
  return { ifindex, vmPorts: vmPortsByVni(links), objectHash, nativeEncap };
}

/**
 * The uplinks vxm_from_uplink goes on (native decapsulation): each cluster network's, when the node has
 * it; none when native encapsulation is off (the operator's NIC then carries no vxmesh program at all).
 */
export function uplinkIfindexes(intent: NodeIntent, links: LinkInfo[], native: boolean): number[] {
  if (!native) return [];
  const byName = new Map(links.map((l) => [l.name, l.ifindex]));
  return [...new Set(intent.clusterNetworks.flatMap((cn) => byName.get(cn.uplink) ?? []))];
}

/** VXMESH_NATIVE_ENCAP=off turns native encapsulation off (encap.h): every tunnelled frame takes vxe0. */
export const nativeEncapFrom = (env: NodeJS.ProcessEnv): boolean => env.VXMESH_NATIVE_ENCAP !== 'off';
