/**
 * Which VM port each endpoint of a network speaks from, in both dataplane modes. Pure.
 *
 * A VM port is a member of bridge `vxb<vni>` that vxmesh did not create. It belongs to the VM NIC its
 * binding names (port-binding.ts: the interface alias the plugging code set), never to a MAC the bridge
 * learned on it or a frame it sent first. A port is *bound* here when its binding names an endpoint of
 * the port's own network that runs on this node (local) or is arriving here (the target of a live
 * migration); every other VM port is *unbound* and carries nothing: no binding, an invalid one, one
 * naming another network's NIC or a VM that runs elsewhere (a source node's port after the migration).
 * Two ports bound to the same NIC (a restarted VM's new port plugged before the old one is gone): the
 * newest (highest ifindex: the kernel allocates them increasing) is bound, the other unbound.
 */
import type { EndpointIntent } from '../intent/types.js';
import type { LinkInfo } from './netlink/link.js';
import { isOwnedDevice } from './names.js';
import { bindingKey, bindingKeysOf, parsePortBinding, type PortBinding } from './port-binding.js';

export interface VmPort {
  name: string;
  ifindex: number;
  vni: number;
  /** The alias as set (for logs); undefined when none. */
  alias?: string;
  /** The binding the alias names, when valid. */
  binding?: PortBinding;
}

export interface PortAssignment {
  /** Endpoint MAC (lowercase) -> the port bound to its NIC (local and arriving endpoints only). */
  portOf: Map<string, VmPort>;
  /** VM ports of the network bound to none of them: every frame from them is dropped. */
  unbound: VmPort[];
}

const vniOfBridge = (name: string): number | undefined => (/^vxb(\d+)$/.test(name) ? Number(name.slice(3)) : undefined);

/** Every VM port of the node, per VNI, sorted by name. */
export function vmPortsByVni(links: LinkInfo[]): Record<number, VmPort[]> {
  const out: Record<number, VmPort[]> = {};
  for (const l of links) {
    const vni = l.master ? vniOfBridge(l.master) : undefined;
    if (vni === undefined || isOwnedDevice(l.name)) continue;
    const binding = parsePortBinding(l.alias);
    (out[vni] ??= []).push({ name: l.name, ifindex: l.ifindex, vni, ...(l.alias ? { alias: l.alias } : {}), ...(binding ? { binding } : {}) });
  }
  for (const ports of Object.values(out)) ports.sort((a, b) => a.name.localeCompare(b.name));
  return out;
}

/** Binds the VM ports of one network to its endpoints (see the header for the rules). */
export function assignPorts(endpoints: EndpointIntent[], ports: VmPort[]): PortAssignment {
  const here = new Map<string, EndpointIntent>();
  for (const ep of endpoints) if (ep.local || ep.arriving) for (const k of bindingKeysOf(ep.vm, ep.iface)) here.set(k, ep);
  const chosen = new Map<string, VmPort>(); // endpoint key (vm/iface) -> port
  for (const p of ports) {
    const ep = p.binding ? here.get(bindingKey(p.binding)) : undefined;
    if (!ep) continue;
    const key = `${ep.vm}/${ep.iface}`;
    const have = chosen.get(key);
    if (!have || p.ifindex > have.ifindex) chosen.set(key, p);
  }
  const portOf = new Map<string, VmPort>();
  for (const [key, p] of chosen) portOf.set(here.get(key)!.mac.toLowerCase(), p);
  const bound = new Set(chosen.values());
  return { portOf, unbound: ports.filter((p) => !bound.has(p)) };
}

/**
 * Remembers which unbound ports were reported, so that each is logged once (with its name) while it
 * stays unbound; a port bound meanwhile is forgotten and reported again if it loses its binding.
 */
export class UnboundReporter {
  private readonly seen = new Set<string>();

  /** The ports not reported yet; `unbound` = every unbound port now (key: name + ifindex). */
  fresh(unbound: VmPort[]): VmPort[] {
    const now = new Set(unbound.map((p) => `${p.name}#${p.ifindex}`));
    for (const k of this.seen) if (!now.has(k)) this.seen.delete(k);
    const out = unbound.filter((p) => !this.seen.has(`${p.name}#${p.ifindex}`));
    for (const p of out) this.seen.add(`${p.name}#${p.ifindex}`);
    return out;
  }
}
