/**
 * desired.ts: pure. NodeIntent + what the node looks like (ifindexes, VM ports and their bindings) -> the exact
 * contents every vxmesh map should hold, as tables of hex key -> hex value (the bytes the kernel
 * stores, so observed and desired compare byte for byte), and the diff between two such states.
 */
import type { ClusterNetworkIntent, NetworkIntent, NodeIntent } from '../../intent/types.js';
import { names, gatewayMac } from '../names.js';
import { directedBroadcast } from '../../util/ipv4.js';
import {
  NET_MOVING, PORT_GATEWAY, PORT_UNBOUND, PORT_VM, VXM_MAX_PEERS, clusterId, encode, ipBytes, ipHost, macBytes, u32,
} from './abi.js';
import { CFG_NATIVE_OFF, CFG_POLICY } from './abi.js';
import { policyTables } from './policy.js';
import { endpointValue } from './endpoints.js';
import { floodVteps } from '../../intent/flood.js';
import { assignPorts, type VmPort } from '../vm-ports.js';

/** Maps the agent writes (vxm_stats is written by the programs only). */
export const MANAGED_MAPS = [
  'vxm_ports', 'vxm_endpoints', 'vxm_arp', 'vxm_networks', 'vxm_vteps', 'vxm_flood', 'vxm_config',
  'vxm_pol_eps', 'vxm_pol_rules', 'vxm_pol_groups',
] as const;
export type ManagedMap = (typeof MANAGED_MAPS)[number];
export type Table = Map<string, string>;
export type MapState = Record<ManagedMap, Table>;

/** What reconcile observed on the node, as input to the pure computation. */
export interface NodeEnv {
  /** Device name -> ifindex in the node netns. */
  ifindex: Record<string, number>;
  /** Per VNI: the VM ports (non-vxmesh members of vxb<vni>) with their bindings (vm-ports.ts). */
  vmPorts: Record<number, VmPort[]>;
  /** Per VNI: MAC (lowercase) -> ifindex of the entries vxm_endpoints holds as local now (a promotion). */
  localPorts?: Record<number, Record<string, number>>;
  /** Per VNI: MAC (lowercase) -> remote VTEP (host order) vxm_endpoints holds now; absent: none. */
  remoteVteps?: Record<number, Record<string, number>>;
  /** Object build hash (kept in vxm_config so a restarted agent knows the pinned programs). */
  objectHash: number;
  /** Native encapsulation (encap.h); false: every tunnelled frame takes vxe0. Default on. */
  nativeEncap?: boolean;
}

export interface MapChange {
  map: ManagedMap;
  op: 'update' | 'delete';
  key: string;
  value?: string;
}

const hex = (b: Buffer) => b.toString('hex');

export function emptyState(): MapState {
  return Object.fromEntries(MANAGED_MAPS.map((m) => [m, new Map()])) as MapState;
}

/** Errors the intent cannot be expressed with (e.g. too many peers); the rest is still computed. */
export interface DesiredResult {
  state: MapState;
  errors: Array<{ network?: string; vni?: number; message: string }>;
}

export function desiredMaps(intent: NodeIntent, env: NodeEnv): DesiredResult {
  const s = emptyState();
  const errors: DesiredResult['errors'] = [];
  let vxe = 0;
  for (const cn of intent.clusterNetworks) {
    const cid = clusterId(cn.name);
    const vxeName = names.externalVxlan(cn.port);
    if (!vxe) vxe = env.ifindex[vxeName] ?? 0;
    else if ((env.ifindex[vxeName] ?? 0) !== vxe) {
      errors.push({ message: `cluster network ${cn.name}: port ${cn.port} differs from the first cluster network's; one VTEP port per node is supported in bpf mode` });
      continue;
    }
    for (const ip of [...cn.peers, cn.localVtep]) {
      s.vxm_vteps.set(hex(encode('vxm_vtep_key', { cluster_id: cid, ip: ipHost(ip) })), '01');
    }
    for (const net of cn.networks) {
      // A network whose values cannot be encoded (e.g. a gateway that is not an address) is left out and
      // reported; the other networks are still programmed.
      let entries: Entry[];
      try {
        entries = networkEntries(cn, net, env, errors);
      } catch (err) {
        errors.push({ network: net.key, vni: net.vni, message: `cannot be programmed, left out: ${(err as Error).message}` });
        continue;
      }
      for (const [map, key, value] of entries) s[map].set(key, value);
    }
  }
  const policy = policyTables(intent, errors);
  Object.assign(s, policy.tables);
  const flags = (policy.enabled ? CFG_POLICY : 0) | (env.nativeEncap === false ? CFG_NATIVE_OFF : 0);
  s.vxm_config.set(hex(u32(0)), hex(encode('vxm_config', { vxe_ifindex: vxe, flags, object_hash: env.objectHash })));
  return { state: s, errors };
}

type Entry = [ManagedMap, string, string];

/** One network's entries in every map (throws when a value cannot be encoded); warnings go to `errors`. */
function networkEntries(cn: ClusterNetworkIntent, net: NetworkIntent, env: NodeEnv, errors: DesiredResult['errors']): Entry[] {
  const entries: Entry[] = [];
  const put = (map: ManagedMap, key: string, value: string) => void entries.push([map, key, value]);
  const cid = clusterId(cn.name);
  const vni = net.vni;
  // head-end replication only to the peers holding the VNI (intent/flood.ts)
  const holders = floodVteps(cn, net);
  if (holders.length > VXM_MAX_PEERS) {
    errors.push({ network: net.key, vni, message: `${holders.length} peers hold the VNI, more than ${VXM_MAX_PEERS}; broadcast reaches the first ${VXM_MAX_PEERS} only` });
  }
  const flood = holders.slice(0, VXM_MAX_PEERS).map(ipHost);
  const key = hex(u32(vni));
  const moving = net.endpoints.some((ep) => ep.migratingTo && !ep.arriving);
  put('vxm_networks', key, hex(encode('vxm_network', {
    gateway_ip: ipBytes(net.gateway), gateway_mac: macBytes(net.gatewayMac || gatewayMac(vni)), pad: [0, 0],
    bridge_ifindex: env.ifindex[names.bridge(vni)] ?? 0, cluster_id: cid, flags: moving ? NET_MOVING : 0, bcast_ip: ipBytes(directedBroadcast(net.cidr)),
    // the underlay for native encapsulation; an uplink not found here leaves it to vxe0 (all zero)
    ...underlay(cn, env),
  })));
  put('vxm_flood', key, hex(encode('vxm_flood', { count: flood.length, ips: padTo(flood, VXM_MAX_PEERS) })));
  put('vxm_arp', hex(encode('vxm_arp_key', { vni, ip: ipBytes(net.gateway) })),
    hex(encode('vxm_arp_entry', { mac: macBytes(net.gatewayMac || gatewayMac(vni)), pad: [0, 0] })));
  const gw = env.ifindex[names.gatewayPort(vni)];
  if (gw) put('vxm_ports', hex(u32(gw)), hex(encode('vxm_port', { vni, flags: PORT_GATEWAY })));
  const ports = env.vmPorts[vni] ?? [];
  const placed = assignPorts(net.endpoints, ports);
  const unbound = new Set(placed.unbound);
  for (const port of ports) {
    const flags = unbound.has(port) ? PORT_UNBOUND : PORT_VM;
    put('vxm_ports', hex(u32(port.ifindex)), hex(encode('vxm_port', { vni, flags })));
  }
  for (const ep of net.endpoints) {
    const mac = ep.mac.toLowerCase();
    put('vxm_arp', hex(encode('vxm_arp_key', { vni, ip: ipBytes(ep.ip) })), hex(encode('vxm_arp_entry', { mac: macBytes(mac), pad: [0, 0] })));
    const k = hex(encode('vxm_endpoint_key', { vni, mac: macBytes(mac), pad: [0, 0] }));
    const port = placed.portOf.get(mac)?.ifindex ?? 0;
    const v = endpointValue(ep, port, { local: env.localPorts?.[vni]?.[mac] ?? 0, remote: env.remoteVteps?.[vni]?.[mac] ?? 0 });
    put('vxm_endpoints', k, hex(encode('vxm_endpoint', v)));
  }
  return entries;
}

/** The vxm_network fields encap.h builds the outer headers from; zero (vxe0 only) without the uplink's ifindex. */
function underlay(cn: ClusterNetworkIntent, env: NodeEnv): Record<string, unknown> {
  const uplink = env.ifindex[cn.uplink] ?? 0;
  if (!uplink) return { local_vtep: [0, 0, 0, 0], uplink_ifindex: 0, vtep_port: [0, 0], pad2: 0 };
  return { local_vtep: ipBytes(cn.localVtep), uplink_ifindex: uplink, vtep_port: [cn.port >> 8, cn.port & 0xff], pad2: 0 };
}

function padTo(xs: number[], n: number): number[] {
  return [...xs, ...Array<number>(Math.max(0, n - xs.length)).fill(0)];
}

/** The smallest set of map writes turning `observed` into `desired` (array maps are never deleted from). */
export function diffMaps(observed: MapState, desired: MapState): MapChange[] {
  const out: MapChange[] = [];
  for (const map of MANAGED_MAPS) {
    const o = observed[map];
    const d = desired[map];
    for (const [key, value] of d) if (o.get(key) !== value) out.push({ map, op: 'update', key, value });
    if (map === 'vxm_config') continue;
    for (const key of o.keys()) if (!d.has(key)) out.push({ map, op: 'delete', key });
  }
  return out;
}
