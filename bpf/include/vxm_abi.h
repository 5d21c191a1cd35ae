/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vxm_abi.h: every struct, enum and constant shared between the vxmesh BPF programs and the agent.
 * Mirror: src/dataplane/bpf/abi.ts (checked against this object's BTF by test/unit/bpf-abi.test.ts).
 * Rules: fixed-width types, explicit padding, a _Static_assert on every size; codes are never reused.
 *
 * Byte orders: VTEP addresses (remote_vtep, vxm_vteps keys, vxm_flood ips) are HOST order, because
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

/* vxm_ports value flags */
enum vxm_port_flags {
	VXM_PORT_VM = 1,      /* a VM port: anti-spoofing applies */
	VXM_PORT_GATEWAY = 2, /* the gateway leg vxg<vni>: trusted */
};

/* vxm_endpoints value flags */
enum vxm_endpoint_flags {
	VXM_EP_LOCAL = 1,  /* the VM runs on this node (remote_vtep == 0) */
	VXM_EP_REMOTE = 2, /* the VM runs behind remote_vtep */
};

/* Verdicts counted per VNI in vxm_stats (userspace mirror: abi.ts VERDICTS). Never renumber. */
enum vxm_verdict {
	VXM_V_FWD_LOCAL = 0,          /* redirected to a local VM port (bpf_redirect_peer) */
	VXM_V_FWD_TUNNEL = 1,         /* encapsulated to a remote VTEP */
	VXM_V_ARP_ANSWERED = 2,       /* ARP request answered in place */
	VXM_V_DROP_UNKNOWN_VTEP = 3,  /* from the tunnel: source VTEP (or VNI) not a member */
	VXM_V_DROP_SPOOF = 4,         /* from a VM: source MAC/IP not its own */
	VXM_V_DROP_MALFORMED = 5,     /* from a VM: truncated or VLAN-tagged frame */
	VXM_V_PASS_KERNEL = 6,        /* handed to the kernel bridge path */
	VXM_V_FLOODED = 7,            /* broadcast/multicast replicated to the VNI's peers */
	VXM_V__MAX = 8,
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
	__u32 ifindex;     /* local port; 0 = not learned yet */
	__u32 flags;       /* enum vxm_endpoint_flags */
	__u32 pad;
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
	__u32 flags;
	__u32 pad2;
};
_Static_assert(sizeof(struct vxm_network) == 28, "vxm_network size");

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

#endif /* VXM_ABI_H */
