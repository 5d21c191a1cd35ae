/**
 * The gateway guard: overlay traffic never reaches the underlay's VTEPs or a node through a gateway.
 * What a router forwards towards the outside (and what the node forwards from a router leg) must not be
 *  - addressed to a VTEP of any cluster network the node knows (every port: the nodes' own services too),
 *  - addressed to one of this node's own addresses (its VTEPs and every address on its links),
 *  - UDP to a VTEP port of any cluster network, at any address (VTEPs of clusters vxmesh does not know).
 * Without this a tenant VM sends VxLAN to a member VTEP, the gateway masquerades it to the node's own
 * underlay address (itself a member VTEP) and the receiver decapsulates it into another tenant's VNI.
 * The rest of the underlay CIDR stays reachable on purpose: the outside natOutgoing exists for (the lab's
 * external host, a real cluster's routers and services) often sits on that same subnet.
 * Kept in named sets, updated in place when membership changes. Pure.
 */
import type { NodeIntent } from '../../intent/types.js';
import type { LinkInfo } from '../netlink/link.js';
import type { NftSetSpec } from '../netlink/nft.js';
import { ipToInt, TRANSIT_CIDR } from './transit.js';

const [TRANSIT_BASE, TRANSIT_LEN] = [ipToInt(TRANSIT_CIDR.split('/')[0]!), 2 ** (32 - Number(TRANSIT_CIDR.split('/')[1]))];
/** In the transit range: covered by the guard-transit rule, and kept out of the node set so that routers coming and going do not churn it. */
const inTransit = (ip: string) => ipToInt(ip) >= TRANSIT_BASE && ipToInt(ip) < TRANSIT_BASE + TRANSIT_LEN;

export const GUARD_SETS = { vteps: 'guard_vteps', node: 'guard_node', ports: 'guard_ports' } as const;

export interface GatewayGuard {
  /** Every known VTEP address (peers and local VTEPs of member cluster networks, intent.underlay). */
  vteps: string[];
  /** This node's own IPv4 addresses (local VTEPs and every address on its links). */
  nodeAddrs: string[];
  /** Every known VTEP UDP port. */
  ports: number[];
}

const byIp = (a: string, b: string) => ipToInt(a) - ipToInt(b);

export function gatewayGuard(intent: NodeIntent, nodeLinks: LinkInfo[]): GatewayGuard {
  const vteps = new Set<string>(intent.underlay?.vteps ?? []);
  const ports = new Set<number>(intent.underlay?.ports ?? []);
  const nodeAddrs = new Set<string>();
  for (const cn of intent.clusterNetworks) {
    for (const p of cn.peers) vteps.add(p);
    vteps.add(cn.localVtep);
    nodeAddrs.add(cn.localVtep);
    ports.add(cn.port);
  }
  for (const l of nodeLinks) {
    for (const a of l.addrs) {
      const ip = a.split('/')[0]!;
      if (!Number.isNaN(ipToInt(ip)) && !inTransit(ip)) nodeAddrs.add(ip);
    }
  }
  return {
    vteps: [...vteps].filter((ip) => !Number.isNaN(ipToInt(ip))).sort(byIp),
    nodeAddrs: [...nodeAddrs].sort(byIp),
    ports: [...ports].filter((p) => Number.isInteger(p) && p > 0 && p < 65536).sort((a, b) => a - b),
  };
}

export function guardSets(g: GatewayGuard): NftSetSpec[] {
  return [
    { name: GUARD_SETS.vteps, type: 'ipv4_addr', elements: g.vteps },
    { name: GUARD_SETS.node, type: 'ipv4_addr', elements: g.nodeAddrs },
    { name: GUARD_SETS.ports, type: 'inet_service', elements: g.ports.map(String) },
  ];
}

/** The guard's drop rules for packets matched by `match` (e.g. `oifname "up0"`), each counted. */
export function guardRules(match: string): Array<{ id: string; text: string }> {
  return [
    { id: 'guard-vteps', text: `${match} ip daddr @${GUARD_SETS.vteps} counter drop` },
    { id: 'guard-node', text: `${match} ip daddr @${GUARD_SETS.node} counter drop` },
    { id: 'guard-vtep-ports', text: `${match} udp dport @${GUARD_SETS.ports} counter drop` },
    { id: 'guard-transit', text: `${match} ip daddr ${TRANSIT_CIDR} counter drop` },
  ];
}
