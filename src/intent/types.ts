/**
 * NodeIntent: everything one node's dataplane should hold, computed purely from a Snapshot by
 * `computeIntent(snapshot, node)`. Both dataplanes (kernel, bpf) consume exactly this.
 * Lists are sorted (by VNI, by IP) so that equal intents compare equal.
 */
import type { NetworkPolicyIntent } from './policy-types.js';

export interface NodeIntent {
  node: string;
  /** The cluster networks this node is a VTEP of (a VxlanConfig selects it and it has a VTEP address). */
  clusterNetworks: ClusterNetworkIntent[];
  /**
   * Every VTEP address and UDP port of every cluster network the snapshot names, this node a member or
   * not: what no overlay packet may be routed to through a gateway (dataplane/gateway/guard.ts). Absent
   * in hand-built intents: the member cluster networks' peers, local VTEPs and ports are used alone.
   */
  underlay?: { vteps: string[]; ports: number[] };
}

export interface ClusterNetworkIntent {
  /** Harvester ClusterNetwork name, e.g. "overlay". */
  name: string;
  /** Device whose address is the VTEP and the tunnels leave by: Harvester's `<cn>-br`/`<cn>-bo` when present, else the single nic, else the bond `<cn>-bo` vxmesh makes (agent/uplink-plan.ts). */
  uplink: string;
  /** Uplink MTU the overlay MTU derives from (VxlanConfig linkAttributes.mtu, default 1500). */
  uplinkMtu: number;
  /** This node's VTEP IPv4 on the underlay. */
  localVtep: string;
  /** VTEP UDP port (default 4789). */
  port: number;
  /** Every other member node's VTEP IPv4, sorted, de-duplicated: the full mesh. */
  peers: string[];
  /** The node of each peer VTEP (for the peer probe's labels, agent/peer-probe.ts); absent in hand-built intents. */
  peerNodes?: Record<string, string>;
  /** The VxlanNetworks of this cluster network, sorted by VNI. */
  networks: NetworkIntent[];
}

export interface NetworkIntent {
  /** "<namespace>/<name>" of the VxlanNetwork. */
  key: string;
  vni: number;
  /** Network address in CIDR form, e.g. "10.10.0.0/24". */
  cidr: string;
  prefixLen: number;
  /** Distributed gateway: the same IP and MAC on every node. */
  gateway: string;
  gatewayMac: string;
  natOutgoing: boolean;
  /** Overlay MTU (VM side). */
  mtu: number;
  /** Every VM NIC of this network that has an address and runs on a member node, sorted by IP. */
  endpoints: EndpointIntent[];
  /** What the node's DHCP server hands out (to its local endpoints only); absent when the network has `dhcp: false`. */
  dhcp?: DhcpIntent;
  /** MultiNetworkPolicies compiled for this network (issue 8); absent when no policy selects any of its endpoints. */
  policy?: NetworkPolicyIntent;
}

export interface DhcpIntent {
  /** Lease time in seconds. */
  leaseTime: number;
  /** DNS servers (option 6), possibly empty. */
  dnsServers: string[];
  /** Search domains (option 119; the first is also option 15), possibly empty. */
  searchDomains: string[];
}

export interface EndpointIntent {
  /** "<namespace>/<name>" of the VMI. */
  vm: string;
  /** The VMI interface name (spec.domain.devices.interfaces[].name). */
  iface: string;
  mac: string;
  ip: string;
  /** Node the VM runs on (status.nodeName). */
  node: string;
  /** VTEP of that node. */
  vtep: string;
  /** True when node === this node. */
  local: boolean;
  /**
   * Set while a live migration of the VM is in progress (KubeVirt status.migrationState: a target node
   * with a VTEP, neither completed nor failed): where the guest is about to run. `node`/`vtep` stay the
   * source's until KubeVirt reports completion.
   */
  migratingTo?: { node: string; vtep: string };
  /**
   * True on the migration target ("arriving"): the endpoint is still remote (node/vtep = the source) for
   * forwarding, but its frames are admitted from this node's VM ports, since the guest resumes here and
   * announces itself before KubeVirt reports completion.
   */
  arriving?: true;
}
