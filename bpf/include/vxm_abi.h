/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vxm_abi.h: every struct, enum and constant shared between the vxmesh BPF programs and the agent.
 * Mirror: src/dataplane/bpf/abi.ts (checked against this object's BTF by test/unit/bpf-abi.test.ts).
 * Rules: fixed-width types, explicit padding, a _Static_assert on every size; codes are never reused.
 *
 * Byte orders: VTEP addresses (remote_vtep, next_vtep, vxm_vteps keys, vxm_flood ips) are HOST order, because
 * struct bpf_tunnel_key.remote_ipv4 is; overlay IPs (vxm_arp keys, gateway_ip) are NETWORK order,
 * because they are compared with packet bytes. MACs are the 6 wire bytes.
 */
#ifndef VXM_ABI_H
#define VXM_ABI_H

#include <linux/types.h>

#define VXM_MAX_PEERS 64    /* head-end replication fan-out per VNI (vxm_flood) */
#define VXM_MAX_PORTS 4096
#define VXM_MAX_ENDPOINTS 131072 /* 100k VM NICs per node view, with headroom */
#define VXM_MAX_NETWORKS 4096
#define VXM_MAX_VTEPS 4096
#define VXM_MAX_STATS 65536
#define VXM_MAX_POL_EPS 131072   /* policy-selected endpoints of this node's networks (all nodes) */
#define VXM_MAX_POL_RULES 262144 /* LPM entries: {group, address prefix} -> allowed ports */
#define VXM_MAX_POL_GROUPS 65536
#define VXM_CT_SHARE 16384       /* flow table for replies: entries per network (inner LRU of vxm_ct) */
#define VXM_POL_MAX_RANGES 16    /* port ranges per address region */
/* Head-end replication budget per VNI (vxm_bcast, tunnel.h): broadcast/multicast frames per second a VNI
 * may replicate to its peers, and the burst above that rate. Mirrors: abi.ts BCAST_RATE_PPS/BCAST_BURST,
 * the kernel-mode nft limit (dataplane/kernel/flood-limit.ts). */
#define VXM_BCAST_RATE_PPS 1000
#define VXM_BCAST_BURST 200
/* Events (vxm_events, stats.h vxm_emit): the ring buffer's size, and the per-CPU budget of events a second
 * with its burst; what is over it is counted lost (vxm_ev_cpu), never silently dropped.
 * Mirrors: abi.ts EV_RING_BYTES/EV_RATE_PER_CPU/EV_BURST. */
#define VXM_EV_RING_BYTES (256 * 1024)
#define VXM_EV_RATE 1000
#define VXM_EV_BURST 200

/* vxm_ports value flags */
enum vxm_port_flags {
	VXM_PORT_VM = 1,        /* a VM port: anti-spoofing applies */
	VXM_PORT_GATEWAY = 2,   /* the gateway leg vxg<vni>: trusted */
	/* 4: retired (was UNCLAIMED, a port that could claim an arriving endpoint by speaking first); never reuse */
	VXM_PORT_UNBOUND = 8,   /* a member of vxb<vni> without a valid binding to a VM NIC of this node
	                         * (dataplane/port-binding.ts): every frame is dropped (dropped-unbound) */
};

/* vxm_config flags */
enum vxm_config_flags {
	VXM_CFG_POLICY = 1, /* some endpoint of this node's networks is selected by a policy */
	VXM_CFG_NATIVE_OFF = 2, /* native encapsulation turned off (VXMESH_NATIVE_ENCAP=off): every tunnelled frame takes vxe0 */
};

/* vxm_networks value flags */
enum vxm_network_flags {
	VXM_NET_MOVING = 1, /* some endpoint of the VNI is MOVING: vxm_from_tunnel looks up source MACs */
};

/* vxm_endpoints value flags. A live migration (vxm_from_vm.bpf.c explains it) adds ARRIVING on the target
 * node and MOVING on every other node; both are cleared by the agent once KubeVirt reports completion. */
enum vxm_endpoint_flags {
	VXM_EP_LOCAL = 1,    /* the VM runs on this node (remote_vtep == 0) */
	VXM_EP_REMOTE = 2,   /* the VM runs behind remote_vtep */
	VXM_EP_ARRIVING = 4, /* migrating to this node: REMOTE for forwarding, but its frames are admitted from
	                      * ifindex (the target's port bound to its NIC), and the first one makes it LOCAL there */
	VXM_EP_MOVING = 8,   /* migrating from where it is (here or remote_vtep) to next_vtep: a frame from
	                      * next_vtep with this source MAC makes it REMOTE behind next_vtep */
};

/* Verdicts counted per VNI in vxm_stats (userspace mirror: abi.ts VERDICTS). Never renumber. */
enum vxm_verdict {
	VXM_V_FWD_LOCAL = 0,          /* redirected to a local VM port (bpf_redirect_peer) */
	VXM_V_FWD_TUNNEL = 1,         /* encapsulated to a remote VTEP */
	VXM_V_ARP_ANSWERED = 2,       /* ARP request answered in place */
	VXM_V_DROP_UNKNOWN_VTEP = 3,  /* from the tunnel: source VTEP not a member (an unknown VNI: counted under VNI 0) */
	VXM_V_DROP_SPOOF = 4,         /* from a VM: source MAC/IP not its own */
	VXM_V_DROP_MALFORMED = 5,     /* from a VM: truncated or VLAN-tagged (in-band or skb->vlan_present) frame */
	VXM_V_PASS_KERNEL = 6,        /* handed to the kernel bridge path */
	VXM_V_FLOODED = 7,            /* broadcast/multicast replicated to the VNI's peers */
	VXM_V_DROP_POLICY = 8,        /* a MultiNetworkPolicy denied it (per group: vxm_pol_stats) */
	VXM_V_DROP_BCAST_RATE = 9,    /* broadcast/multicast over the VNI's replication budget: not replicated */
	VXM_V_DROP_UNBOUND = 10,      /* from a VM port without a valid binding (VXM_PORT_UNBOUND) */
	VXM_V_DROP_IPV6 = 11,         /* from a VM: IPv6, which vxmesh does not carry */
	VXM_V_ENCAP_NATIVE = 12,      /* of forwarded-tunnel: encapsulated in TC and redirected to the uplink (encap.h) */
	VXM_V_ENCAP_FALLBACK = 13,    /* of forwarded-tunnel: the native path could not take it: set_tunnel_key + vxe0 */
	VXM_V_DECAP_NATIVE = 14,      /* VxLAN to this node decapsulated on the uplink and delivered (of forwarded-local) */
	VXM_V_DECAP_FALLBACK = 15,    /* VxLAN to this node left to vxe0 (GRO-merged, broadcast, ARP, ...: vxm_from_uplink) */
	VXM_V__MAX = 16,
};

/* Reasons helpers return (negated); only entry points turn them into TC verdicts. Never reused. */
enum vxm_err {
	VXM_E_MALFORMED = 1,
	VXM_E_SPOOF_MAC = 2,
	VXM_E_SPOOF_IP = 3,
	VXM_E_UNKNOWN_VTEP = 4,
	VXM_E_UNKNOWN_VNI = 5,
	VXM_E_VLAN = 6,
	VXM_E_TUNNEL_KEY = 7,
	VXM_E_POLICY = 8,
	VXM_E_UNBOUND = 9,
	VXM_E_IPV6 = 10,
	VXM_E_NATIVE = 11,        /* encap.h: the native path cannot take the frame, vxe0 will */
	VXM_E_ENCAP_BROKEN = 12,  /* encap.h: resized but not written: drop */
	VXM_E_BCAST_UNICAST = 13, /* policy.h: unicast IPv4 inside an L2 broadcast/multicast frame */
	VXM_E_DHCP = 14,          /* dhcp.h: DHCP a VM may not send, or DHCP through the tunnel */
	VXM_E_BCAST_RATE = 15,    /* tunnel.h: over the VNI's replication budget: not replicated */
};

/* What exactly failed, within a reason (vxm_event.miss). Never reused. */
enum vxm_miss {
	VXM_M_NONE = 0,
	VXM_M_NO_ENDPOINT = 1, /* SPOOF_MAC: no vxm_endpoints {vni, source MAC} */
	VXM_M_OTHER_PORT = 2,  /* SPOOF_MAC: the endpoint is bound to another port (detail: its ifindex, 0 = none) */
	VXM_M_NOT_LOCAL = 3,   /* SPOOF_MAC: bound here, but neither LOCAL nor ARRIVING */
	VXM_M_ARP_SHA = 4,     /* SPOOF_MAC: the ARP sender MAC is not the Ethernet source */
	VXM_M_NO_ARP = 5,      /* SPOOF_IP: no vxm_arp {vni, source IP} (ARP: sender IP) */
	VXM_M_OTHER_MAC = 6,   /* SPOOF_IP: vxm_arp {vni, source IP} is another MAC's */
	VXM_M_UNSPECIFIED = 7, /* SPOOF_IP: 0.0.0.0 outside a DHCP client message or an ARP probe request */
	VXM_M_NO_RULE = 8,     /* POLICY: the group has no rule for the peer address */
	VXM_M_NO_PORT = 9,     /* POLICY: rules for the peer address, none for this protocol and port */
	VXM_M_NOT_IPV4 = 10,   /* POLICY: a selected endpoint and a frame that is not (whole) IPv4 */
	VXM_M_VLAN_STRIPPED = 11, /* VLAN: the kernel moved the tag into skb->vlan_tci before TC */
};

/* Which program saw the frame (vxm_event.hook). */
enum vxm_hook {
	VXM_HOOK_FROM_VM = 1,
	VXM_HOOK_FROM_TUNNEL = 2,
	VXM_HOOK_FROM_UPLINK = 3,
	VXM_HOOK_TO_PORT = 4,
};

/* vxm_ev_config flags (written by `vxmesh monitor`, never by the agent's reconcile) */
enum vxm_ev_flags {
	VXM_EV_TRACE = 1, /* also events for forwarding verdicts (drops always have one) */
};

/* Policy verdicts counted per group in vxm_pol_stats (userspace mirror: abi.ts POLICY_VERDICTS). */
enum vxm_pol_verdict {
	VXM_PV_ALLOW = 0,  /* a rule of the group allowed it (new or ongoing original-direction packet) */
	VXM_PV_DENY = 1,   /* no rule allowed it: dropped */
	VXM_PV_REPLY = 2,  /* reply of an allowed flow (vxm_ct), passed without rule lookup */
	VXM_PV__MAX = 3,
};

enum vxm_pol_flags {
	VXM_POL_ANY = 1, /* every protocol and port */
};

/* vxm_ports: ifindex (__u32 key) -> port */
struct vxm_port {
	__u32 vni;
	__u32 flags; /* enum vxm_port_flags */
};
_Static_assert(sizeof(struct vxm_port) == 8, "vxm_port size");

struct vxm_endpoint_key {
	__u32 vni;
	__u8 mac[6];
	__u8 pad[2];
};
_Static_assert(sizeof(struct vxm_endpoint_key) == 12, "vxm_endpoint_key size");

struct vxm_endpoint {
	__u32 remote_vtep; /* host order; 0 = local */
	__u32 ifindex;     /* the port bound to the VM NIC (LOCAL, or ARRIVING: the target's); 0 = none: admits nothing */
	__u32 flags;       /* enum vxm_endpoint_flags */
	__u32 next_vtep;   /* host order; MOVING: the migration target's VTEP, else 0 */
};
_Static_assert(sizeof(struct vxm_endpoint) == 16, "vxm_endpoint size");

struct vxm_arp_key {
	__u32 vni;
	__be32 ip; /* network order */
};
_Static_assert(sizeof(struct vxm_arp_key) == 8, "vxm_arp_key size");

struct vxm_arp_entry {
	__u8 mac[6];
	__u8 pad[2];
};
_Static_assert(sizeof(struct vxm_arp_entry) == 8, "vxm_arp_entry size");

/* vxm_networks: vni (__u32 key) -> network */
struct vxm_network {
	__be32 gateway_ip; /* network order */
	__u8 gateway_mac[6];
	__u8 pad[2];
	__u32 bridge_ifindex;
	__u32 cluster_id; /* FNV-1a of the ClusterNetwork name */
	__u32 flags;      /* enum vxm_network_flags */
	__be32 bcast_ip;  /* network order: the CIDR's directed broadcast (policy.h: unicast inside L2 broadcast) */
	/* The underlay of the network's cluster network, for native encapsulation (encap.h); 0 = take vxe0. */
	__be32 local_vtep;     /* network order: this node's VTEP address (the outer source) */
	__u32 uplink_ifindex;  /* the cluster network's uplink: the FIB lookup's output device */
	__be16 vtep_port;      /* network order: the VxLAN UDP port (outer destination) */
	__u16 pad2;
};
_Static_assert(sizeof(struct vxm_network) == 40, "vxm_network size");

struct vxm_vtep_key {
	__u32 cluster_id;
	__u32 ip; /* host order */
};
_Static_assert(sizeof(struct vxm_vtep_key) == 8, "vxm_vtep_key size");

/* vxm_flood: vni (__u32 key) -> the VNI's peer VTEPs */
struct vxm_flood {
	__u32 count;
	__u32 ips[VXM_MAX_PEERS]; /* host order */
};
_Static_assert(sizeof(struct vxm_flood) == 4 + 4 * VXM_MAX_PEERS, "vxm_flood size");

/* vxm_config[0] */
struct vxm_config {
	__u32 vxe_ifindex; /* collect-metadata vxlan device; 0 = none yet */
	__u32 flags;
	__u64 object_hash; /* agent only: which object build the pinned programs came from */
};
_Static_assert(sizeof(struct vxm_config) == 16, "vxm_config size");

struct vxm_stat_key {
	__u32 vni;
	__u32 verdict; /* enum vxm_verdict */
};
_Static_assert(sizeof(struct vxm_stat_key) == 8, "vxm_stat_key size");

struct vxm_stat {
	__u64 packets;
	__u64 bytes;
};
_Static_assert(sizeof(struct vxm_stat) == 16, "vxm_stat size");

/* vxm_pol_eps: {vni, mac} (struct vxm_endpoint_key) -> the endpoint's policy groups; 0 = open */
struct vxm_pol_ep {
	__u32 ingress;
	__u32 egress;
};
_Static_assert(sizeof(struct vxm_pol_ep) == 8, "vxm_pol_ep size");

/* vxm_pol_rules: LPM trie key. prefixlen counts bits after itself: 32 (group, always whole) + the
 * address prefix. addr is network order. */
struct vxm_pol_key {
	__u32 prefixlen;
	__u32 group;
	__u8 addr[4];
};
_Static_assert(sizeof(struct vxm_pol_key) == 12, "vxm_pol_key size");

struct vxm_pol_range {
	__u16 from; /* host order */
	__u16 to;
	__u8 proto; /* IPPROTO_TCP/UDP/SCTP */
	__u8 pad[3];
};
_Static_assert(sizeof(struct vxm_pol_range) == 8, "vxm_pol_range size");

struct vxm_pol_value {
	__u32 flags; /* enum vxm_pol_flags */
	__u32 count; /* ranges used */
	struct vxm_pol_range ranges[VXM_POL_MAX_RANGES];
};
_Static_assert(sizeof(struct vxm_pol_value) == 8 + 8 * VXM_POL_MAX_RANGES, "vxm_pol_value size");

/* vxm_pol_groups: group id -> what it is (for inspect; the programs never read it) */
struct vxm_pol_group {
	__u32 vni;
	__u32 direction; /* 0 ingress, 1 egress */
	char policies[120]; /* "<ns>/<name>,..." truncated, NUL-padded */
};
_Static_assert(sizeof(struct vxm_pol_group) == 128, "vxm_pol_group size");

/* vxm_ct: one allowed flow, keyed as its original direction; a packet whose reverse key is present
 * (and seen within VXM_CT_TIMEOUT) is a reply. ICMP echo: sport = dport = id. Addresses and ports in
 * network order. */
struct vxm_ct_key {
	__u32 vni;
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};
_Static_assert(sizeof(struct vxm_ct_key) == 20, "vxm_ct_key size");

/* vxm_bcast: vni (__u32 key) -> the VNI's replication budget as a GCRA "theoretical arrival time" */
struct vxm_bcast {
	__u64 tat; /* bpf_ktime_get_ns of the next conforming frame; at most BURST intervals ahead of now */
};
_Static_assert(sizeof(struct vxm_bcast) == 8, "vxm_bcast size");

struct vxm_ct_entry {
	__u64 last_seen; /* bpf_ktime_get_ns */
};
_Static_assert(sizeof(struct vxm_ct_entry) == 8, "vxm_ct_entry size");

struct vxm_pol_stat_key {
	__u32 group;
	__u32 verdict; /* enum vxm_pol_verdict */
};
_Static_assert(sizeof(struct vxm_pol_stat_key) == 8, "vxm_pol_stat_key size");

/* vxm_events record: one frame's verdict (stats.h vxm_emit). Inner headers as far as the frame has them
 * (zero otherwise); MACs, ethertype, addresses and ports as on the wire (the Ethernet header is copied
 * whole: dst, src, type); ports = the first 4 bytes of the L4 header (ICMP: type, code). ARP: saddr/daddr
 * are the sender/target IPs, sport the op. */
struct vxm_event {
	__u64 time_ns;   /* bpf_ktime_get_ns */
	__u32 hook;      /* enum vxm_hook */
	__u32 ifindex;   /* skb->ifindex: the port, vxe0 or the uplink */
	__u32 vni;       /* the VNI counted under (0: the frame's VNI is unknown here, see detail) */
	__u32 verdict;   /* enum vxm_verdict */
	__u32 reason;    /* enum vxm_err; 0 for forwarding verdicts */
	__u32 miss;      /* enum vxm_miss */
	__u32 detail;    /* per miss/reason: the bound ifindex (OTHER_PORT), the VNI (UNKNOWN_VNI) */
	__u32 group;     /* POLICY: the group that denied it */
	__u32 outer_src; /* host order: the sending VTEP (from the tunnel), else 0 */
	__u32 outer_dst; /* host order: the receiving VTEP (this node from the tunnel, the peer into it), else 0 */
	__u8 dst_mac[6];
	__u8 src_mac[6];
	__be16 ethertype;
	__u8 direction;  /* POLICY: 0 ingress, 1 egress */
	__u8 l4_proto;
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u32 len;       /* skb->len */
};
_Static_assert(sizeof(struct vxm_event) == 80, "vxm_event size");

/* vxm_ev_cpu: per CPU, the event budget (GCRA like vxm_bcast) and what it could not send */
struct vxm_ev_cpu {
	__u64 tat;       /* bpf_ktime_get_ns of the next conforming event */
	__u64 sent;
	__u64 lost_rate; /* over the budget */
	__u64 lost_ring; /* the ring buffer was full (the reader is behind) */
};
_Static_assert(sizeof(struct vxm_ev_cpu) == 32, "vxm_ev_cpu size");

/* vxm_ev_config[0] */
struct vxm_ev_config {
	__u32 flags; /* enum vxm_ev_flags */
	__u32 pad;
};
_Static_assert(sizeof(struct vxm_ev_config) == 8, "vxm_ev_config size");

#endif /* VXM_ABI_H */
