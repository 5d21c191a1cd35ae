/**
 * endpoints.ts: pure. The vxm_endpoints value of each endpoint of one VNI, the VM-port flags that go with
 * it, and the reverse (what the maps hold now, as facts for the next computation).
 *
 * Live migration (the states are explained in bpf/vxm_from_vm.bpf.c): the programs learn where a
 * migrating guest speaks from before KubeVirt reports completion, by rewriting its entry in place (on the
 * target: ARRIVING -> LOCAL on the guest's port; elsewhere: MOVING -> REMOTE behind the target VTEP). The
 * agent keeps what they learned for as long as the migration is in progress, so a reconcile in that
 * window never sends the guest's traffic back to the node it left; completion then clears the flags.
 */
import type { EndpointIntent } from '../../intent/types.js';
import { EP_ARRIVING, EP_LOCAL, EP_MOVING, EP_REMOTE, decode, ipHost, macString } from './abi.js';

export type EndpointValue = {
  remote_vtep: number;
  ifindex: number;
  flags: number;
  next_vtep: number;
};

/** Per VNI: MAC (lowercase) -> value, as vxm_endpoints holds it now. */
export type Observed<T> = Record<number, Record<string, T>>;

/** What the maps hold now: the port of every entry that is local with a known port, the VTEP of every remote one. */
export function observedEndpoints(table: Map<string, string>): { ports: Observed<number>; remotes: Observed<number> } {
  const ports: Observed<number> = {};
  const remotes: Observed<number> = {};
  for (const [k, v] of table) {
    const key = decode<{ vni: number; mac: number[] }>('vxm_endpoint_key', Buffer.from(k, 'hex'));
    const val = decode<EndpointValue>('vxm_endpoint', Buffer.from(v, 'hex'));
    const mac = macString(key.mac);
    if (val.remote_vtep) (remotes[key.vni] ??= {})[mac] = val.remote_vtep;
    else if (val.ifindex) (ports[key.vni] ??= {})[mac] = val.ifindex;
  }
  return { ports, remotes };
}

/**
 * Which VM port each endpoint of one VNI is on, from where the bridge or the programs saw its MAC
 * (`learned`: MAC -> port). A port seen with a local endpoint's MAC is that VM's: it is "claimed", and an
 * arriving endpoint is only placed on an unclaimed one (a VM already on this node cannot take over a
 * migrating neighbour). `openPorts` = the VNI still has an arriving endpoint without a port, so its
 * unclaimed VM ports are flagged for vxm_from_vm to admit that endpoint's first frames.
 */
export function placeEndpoints(endpoints: EndpointIntent[], learned: Record<string, string>): { portOf: Map<string, string>; claimed: Set<string>; openPorts: boolean } {
  const portOf = new Map<string, string>();
  const claimed = new Set<string>();
  for (const ep of endpoints) {
    const port = learned[ep.mac.toLowerCase()];
    if (ep.local && port) {
      portOf.set(ep.mac.toLowerCase(), port);
      claimed.add(port);
    }
  }
  let openPorts = false;
  for (const ep of endpoints) {
    if (!ep.arriving) continue;
    const port = learned[ep.mac.toLowerCase()];
    if (port && !claimed.has(port)) {
      portOf.set(ep.mac.toLowerCase(), port);
      claimed.add(port);
    } else openPorts = true;
  }
  return { portOf, claimed, openPorts };
}

/**
 * The entry of one endpoint. `port` = its VM port's ifindex (0: not seen yet); `observedRemote` = the
 * remote VTEP its entry holds now (0: none).
 */
export function endpointValue(ep: EndpointIntent, port: number, observedRemote: number): EndpointValue {
  const local = (flags: number, next = 0): EndpointValue => ({ remote_vtep: 0, ifindex: port, flags: EP_LOCAL | flags, next_vtep: next });
  const remote = (vtep: number, flags: number, next = 0): EndpointValue => ({ remote_vtep: vtep, ifindex: 0, flags: EP_REMOTE | flags, next_vtep: next });
  if (ep.arriving) return port ? local(EP_ARRIVING) : remote(ipHost(ep.vtep), EP_ARRIVING);
  if (!ep.migratingTo) return ep.local ? local(0) : remote(ipHost(ep.vtep), 0);
  const next = ipHost(ep.migratingTo.vtep);
  if (observedRemote === next) return remote(next, EP_MOVING, next); // already moved by vxm_from_tunnel
  return ep.local ? local(EP_MOVING, next) : remote(ipHost(ep.vtep), EP_MOVING, next);
}
