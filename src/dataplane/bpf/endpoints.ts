/**
 * endpoints.ts: pure. The vxm_endpoints value of each endpoint of one VNI (its port comes from the
 * port binding: vm-ports.ts), and the reverse (what the maps hold now, as facts for the next computation).
 *
 * Live migration (the states are explained in bpf/vxm_from_vm.bpf.c): the programs learn where a
 * migrating guest speaks from before KubeVirt reports completion, by rewriting its entry in place (on the
 * target: ARRIVING -> LOCAL on the target's port bound to the guest's NIC; elsewhere: MOVING -> REMOTE
 * behind the target VTEP). The agent keeps what they learned for as long as the migration is in progress, so a reconcile in that
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

/** What the maps hold now: the port of every local entry with a port, the VTEP of every remote one. */
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
 * The entry of one endpoint. `port` = the ifindex of the port bound to its NIC on this node (0: none,
 * which admits nothing); `observed` = what its entry holds now: the local port (0: not local) and the
 * remote VTEP (0: none).
 * An arriving endpoint (migration target) stays remote, carrying the target's bound port for
 * vxm_from_vm to promote it from, until the program has promoted it on exactly that port.
 */
export function endpointValue(ep: EndpointIntent, port: number, observed: { local: number; remote: number }): EndpointValue {
  const local = (flags: number, next = 0): EndpointValue => ({ remote_vtep: 0, ifindex: port, flags: EP_LOCAL | flags, next_vtep: next });
  const remote = (vtep: number, flags: number, next = 0): EndpointValue => ({ remote_vtep: vtep, ifindex: 0, flags: EP_REMOTE | flags, next_vtep: next });
  if (ep.arriving) return port && observed.local === port ? local(EP_ARRIVING) : { ...remote(ipHost(ep.vtep), EP_ARRIVING), ifindex: port };
  if (!ep.migratingTo) return ep.local ? local(0) : remote(ipHost(ep.vtep), 0);
  const next = ipHost(ep.migratingTo.vtep);
  if (observed.remote === next) return remote(next, EP_MOVING, next); // already moved by vxm_from_tunnel
  return ep.local ? local(EP_MOVING, next) : remote(ipHost(ep.vtep), EP_MOVING, next);
}
