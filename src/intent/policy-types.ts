/**
 * The policy part of NodeIntent (issue 8): MultiNetworkPolicies compiled per network into groups of
 * endpoints that share the same selecting policies, each group carrying the union of what those
 * policies allow. Both dataplanes enforce exactly this; neither re-reads the policy objects.
 */

/** Per network: which endpoints are selected, and the groups their traffic is checked against. */
export interface NetworkPolicyIntent {
  /**
   * Every endpoint of the network selected by some policy in some direction, LOCAL OR NOT, sorted by MAC.
   * Dataplanes program all of them keyed by MAC and enforce only where the VM's port is, so a VM that
   * migrates here is already guarded when its port appears, before the intent says it is local.
   */
  endpoints: PolicyEndpoint[];
  /** The groups referenced by `endpoints`, sorted by id. */
  groups: PolicyGroup[];
}

export interface PolicyEndpoint {
  vm: string;
  iface: string;
  mac: string;
  ip: string;
  local: boolean;
  /** Group id checked for traffic TO this endpoint; absent: ingress open. */
  ingress?: number;
  /** Group id checked for traffic FROM this endpoint; absent: egress open. */
  egress?: number;
}

export type PolicyDirection = 'ingress' | 'egress';

export interface PolicyGroup {
  /** Node-wide id (1..), unique across networks and directions. */
  id: number;
  direction: PolicyDirection;
  vni: number;
  /** "<namespace>/<name>" of the policies selecting this group's endpoints, sorted. */
  policies: string[];
  /** Allowed traffic: the union of these rules (no rule: everything is denied). */
  rules: PolicyRule[];
}

export interface PolicyRule {
  /** The policy the rule comes from and its index in spec.ingress / spec.egress. */
  policy: string;
  index: number;
  /** Peer addresses (source for ingress, destination for egress): sorted, merged, disjoint ranges. */
  peers: IpRange[];
  /** Undefined: every protocol and port (ICMP included). Else TCP/UDP/SCTP destination port ranges. */
  ports?: PortRange[];
}

/** Inclusive range of IPv4 addresses as unsigned 32-bit integers. */
export interface IpRange {
  from: number;
  to: number;
}

export type L4Protocol = 'tcp' | 'udp' | 'sctp';

export interface PortRange {
  protocol: L4Protocol;
  from: number;
  to: number;
}
