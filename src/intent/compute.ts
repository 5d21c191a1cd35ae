/**
 * computeIntent(snapshot, node): what one node's dataplane should hold. Pure and total: no I/O, no clock.
 *  - A node is a VTEP of a cluster network when a VxlanConfig of it selects the node and the node has a VTEP
 *    address (published in its VxlanStatus, or the config's static map).
 *  - Every member node joins every VxlanNetwork of that cluster network (full mesh, no multicast).
 *  - Endpoints are the VM NICs with an allocation, a MAC and a member node to run on. During a live
 *    migration (to a member node) they stay at the source (status.nodeName) and carry the target
 *    (migratingTo); on the target they are "arriving" (remote, but the guest may speak from a local port).
 */
import { gatewayMac } from '../dataplane/names.js';
import { keyOf, type Snapshot, type VxlanConfig } from '../model/schema.js';
import { vmiNics } from '../model/vmi.js';
import { firstHost, ipToInt, parseCidr } from '../util/ipv4.js';
import type { ClusterNetworkIntent, EndpointIntent, NetworkIntent, NodeIntent } from './types.js';
import { networkPolicy } from './policy.js';

export interface LocalFacts {
  /** This node's VTEP per cluster network, as the agent observed it (overrides the published status). */
  vteps?: Record<string, string>;
  /** The uplink device per cluster network, as the agent planned it (agent/uplink-plan.ts); default: the single nic, else `<cn>-bo`. */
  uplinks?: Record<string, string>;
}

export function computeIntent(snapshot: Snapshot, node: string, local: LocalFacts = {}): NodeIntent {
  const clusterNetworks: ClusterNetworkIntent[] = [];
  let nextPolicyGroup = 1; // policy group ids are node-wide (one BPF map, one nft table)
  const cns = [...new Set(snapshot.vxlanConfigs.map((c) => c.spec.clusterNetwork))].sort();
  const underlayVteps = new Set<string>();
  for (const cn of cns) {
    const members = memberVteps(snapshot, cn, node, local);
    for (const ip of members.values()) underlayVteps.add(ip);
    const config = configFor(snapshot, cn, node);
    const localVtep = members.get(node);
    if (!config || !localVtep) continue;
    const uplinkMtu = config.spec.uplink.linkAttributes.mtu ?? 1500;
    const peers = [...new Set([...members].filter(([n]) => n !== node).map(([, ip]) => ip))]
      .filter((ip) => ip !== localVtep)
      .sort((a, b) => ipToInt(a) - ipToInt(b));
    // Two nodes publishing one address (a misconfiguration) are one peer: the first by name labels it.
    const peerNodes: Record<string, string> = {};
    for (const [n, ip] of members) if (peers.includes(ip)) peerNodes[ip] ??= n;
    const networks = snapshot.vxlanNetworks
      .filter((n) => n.spec.clusterNetwork === cn)
      .map((n): NetworkIntent => {
        const c = parseCidr(n.spec.cidr);
        const key = keyOf(n);
        return {
          key,
          vni: n.spec.vni,
          cidr: n.spec.cidr,
          prefixLen: c.prefixLen,
          gateway: n.spec.gateway ?? firstHost(c),
          gatewayMac: gatewayMac(n.spec.vni),
          natOutgoing: n.spec.natOutgoing,
          mtu: n.spec.mtu ?? uplinkMtu - 50,
          endpoints: endpointsOf(snapshot, key, node, members),
          ...(n.spec.dhcp ? { dhcp: { leaseTime: n.spec.leaseTime, dnsServers: [...n.spec.dns.servers], searchDomains: [...n.spec.dns.search] } } : {}),
        };
      })
      .sort((a, b) => a.vni - b.vni);
    for (const n of networks) {
      const policy = networkPolicy(snapshot, n, nextPolicyGroup);
      if (!policy) continue;
      n.policy = policy;
      nextPolicyGroup += policy.groups.length;
    }
    clusterNetworks.push({
      name: cn,
      uplink: local.uplinks?.[cn] ?? (config.spec.uplink.nics.length === 1 ? config.spec.uplink.nics[0]! : `${cn}-bo`),
      uplinkMtu,
      localVtep,
      port: config.spec.port,
      peers,
      peerNodes,
      networks,
    });
  }
  const underlay = {
    vteps: [...underlayVteps].sort((a, b) => ipToInt(a) - ipToInt(b)),
    ports: [...new Set(snapshot.vxlanConfigs.map((c) => c.spec.port))].sort((a, b) => a - b),
  };
  return { node, clusterNetworks, underlay };
}

function labelsOf(snapshot: Snapshot, node: string): Record<string, string> | undefined {
  return snapshot.nodes.find((n) => n.metadata.name === node)?.metadata.labels ?? (snapshot.nodes.some((n) => n.metadata.name === node) ? {} : undefined);
}

/** The VxlanConfig of `cn` that selects `node` (first by name), if any. */
export function configFor(snapshot: Snapshot, cn: string, node: string): VxlanConfig | undefined {
  const labels = labelsOf(snapshot, node);
  return snapshot.vxlanConfigs
    .filter((c) => c.spec.clusterNetwork === cn)
    .find((c) => {
      const want = Object.entries(c.spec.nodeSelector.matchLabels ?? {});
      if (want.length === 0) return true;
      return labels !== undefined && want.every(([k, v]) => labels[k] === v);
    });
}

/** node -> VTEP address for every member of cluster network `cn`. */
function memberVteps(snapshot: Snapshot, cn: string, self: string, local: LocalFacts): Map<string, string> {
  const out = new Map<string, string>();
  const candidates = new Set<string>([self, ...snapshot.nodes.map((n) => n.metadata.name), ...snapshot.statuses.filter((s) => s.status.clusterNetwork === cn).map((s) => s.status.node)]);
  for (const c of snapshot.vxlanConfigs.filter((x) => x.spec.clusterNetwork === cn)) for (const n of Object.keys(c.spec.vtep.addresses)) candidates.add(n);
  for (const node of [...candidates].sort()) {
    const config = configFor(snapshot, cn, node);
    if (!config) continue;
    const published = snapshot.statuses.find((s) => s.status.clusterNetwork === cn && s.status.node === node)?.status.vtepIP;
    const ip = node === self && local.vteps?.[cn] ? local.vteps[cn] : config.spec.vtep.addressFrom === 'static' ? config.spec.vtep.addresses[node] : published ?? config.spec.vtep.addresses[node];
    if (ip) out.set(node, ip);
  }
  return out;
}

function endpointsOf(snapshot: Snapshot, network: string, self: string, members: Map<string, string>): EndpointIntent[] {
  const vmis = new Map(snapshot.vmis.map((v) => [keyOf(v), v]));
  const out: EndpointIntent[] = [];
  for (const a of snapshot.allocations) {
    if (a.spec.network !== network) continue;
    const vmi = vmis.get(`${a.metadata.namespace}/${a.spec.vm}`);
    if (!vmi) continue;
    const nic = vmiNics(vmi).find((n) => n.iface === a.spec.interface && n.network === network);
    const mac = nic?.mac ?? a.spec.mac;
    const node = nic?.node;
    if (!nic || !mac || !node) continue;
    const vtep = members.get(node);
    if (!vtep) continue;
    out.push({ vm: nic.vm, iface: nic.iface, mac, ip: a.spec.ip, node, vtep, local: node === self, ...migrationOf(nic.migrationTarget, self, members) });
  }
  return out.sort((x, y) => ipToInt(x.ip) - ipToInt(y.ip));
}

/** The migration fields of an endpoint whose VMI is moving to `target` (a member node), as seen from `self`. */
export function migrationOf(target: string | undefined, self: string, members: Map<string, string>): Pick<EndpointIntent, 'migratingTo' | 'arriving'> {
  const vtep = target ? members.get(target) : undefined;
  if (!target || !vtep) return {};
  return { migratingTo: { node: target, vtep }, ...(target === self ? { arriving: true as const } : {}) };
}
