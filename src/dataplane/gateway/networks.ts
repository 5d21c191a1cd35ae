/** Flattens a NodeIntent into the per-network facts the shared parts (bridges, gateway) need. Pure. */
import type { NodeIntent, NetworkIntent } from '../../intent/types.js';
import { hostsNetwork } from '../../intent/flood.js';

export interface LocalNetwork extends NetworkIntent {
  clusterNetwork: string;
  uplink: string;
}

export function localNetworks(intent: NodeIntent): LocalNetwork[] {
  const out: LocalNetwork[] = [];
  for (const cn of intent.clusterNetworks) {
    for (const n of cn.networks) out.push({ ...n, clusterNetwork: cn.name, uplink: cn.uplink });
  }
  return out.sort((a, b) => a.vni - b.vni);
}

/**
 * The networks that get a router namespace (gateway, NAT) and a DHCP server on this node: those with a
 * VM here or arriving here (intent/flood.ts hostsNetwork). Bridges (and kernel-mode vxlan devices) stay
 * on every member node so a VM can be plugged before the intent names its node.
 */
export function routedNetworks(intent: NodeIntent): LocalNetwork[] {
  return localNetworks(intent).filter(hostsNetwork);
}

/** `vxb123` -> 123 for names made by `names.*` with the given prefix. */
export function vniOf(name: string, prefix: string): number | undefined {
  const m = new RegExp(`^${prefix}(\\d+)$`).exec(name);
  return m ? Number(m[1]) : undefined;
}
