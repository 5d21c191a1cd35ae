/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vxm_maps.h: the BTF map declarations, no logic. Both objects declare the same maps; the agent pins
 * them under <bpffs>/vxmesh/<name> (bpf_map__set_pin_path before load), so the second object and a
 * restarted agent reuse them.
 */
#ifndef VXM_MAPS_H
#define VXM_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "vxm_abi.h"

/* vxm_ports: ifindex -> {vni, flags: VM (bound to a VM NIC of this node) | UNBOUND | GATEWAY}.
 * Writer: agent (dataplane/bpf/desired.ts via reconcile, bindings from dataplane/vm-ports.ts). Reader: vxm_from_vm. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VXM_MAX_PORTS);
	__type(key, __u32);
	__type(value, struct vxm_port);
} vxm_ports SEC(".maps");

/* vxm_endpoints: {vni, mac} -> {remote vtep, local ifindex, flags, migration target vtep}.
 * Writer: agent; during a live migration also vxm_from_vm (ARRIVING -> LOCAL) and vxm_from_tunnel
 * (MOVING -> behind the target), see vxm_from_vm.bpf.c. Reader: vxm_from_vm, vxm_from_tunnel. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VXM_MAX_ENDPOINTS);
	__type(key, struct vxm_endpoint_key);
	__type(value, struct vxm_endpoint);
} vxm_endpoints SEC(".maps");

/* vxm_arp: {vni, ipv4} -> mac, for every VM IP of the network and its gateway.
 * Writer: agent. Reader: vxm_from_vm (ARP responder, anti-spoofing). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VXM_MAX_ENDPOINTS);
	__type(key, struct vxm_arp_key);
	__type(value, struct vxm_arp_entry);
} vxm_arp SEC(".maps");

/* vxm_networks: vni -> {gateway ip/mac, bridge ifindex, cluster id}.
 * Writer: agent. Reader: vxm_from_vm, vxm_from_tunnel. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VXM_MAX_NETWORKS);
	__type(key, __u32);
	__type(value, struct vxm_network);
} vxm_networks SEC(".maps");

/* vxm_vteps: {cluster id, vtep ip} -> 1 for every member VTEP (peers and this node).
 * Writer: agent. Reader: vxm_from_tunnel. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VXM_MAX_VTEPS);
	__type(key, struct vxm_vtep_key);
	__type(value, __u8);
} vxm_vteps SEC(".maps");

/* vxm_flood: vni -> {count, peer VTEPs} for head-end replication of broadcast/multicast.
 * Writer: agent. Reader: vxm_from_vm. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VXM_MAX_NETWORKS);
	__type(key, __u32);
	__type(value, struct vxm_flood);
} vxm_flood SEC(".maps");

/* vxm_bcast: vni -> replication budget (a per-VNI token bucket, GCRA form). LRU: a VNI that left is aged out.
 * Writer and reader: tunnel.h vxm_replicate (vxm_from_vm). The agent never writes it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VXM_MAX_NETWORKS);
	__type(key, __u32);
	__type(value, struct vxm_bcast);
} vxm_bcast SEC(".maps");

/* vxm_config[0]: {vxe ifindex, object hash}.
 * Writer: agent. Reader: vxm_from_vm. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vxm_config);
} vxm_config SEC(".maps");

/* vxm_stats: {vni, verdict} -> per-CPU {packets, bytes}.
 * Writer: vxm_from_vm, vxm_from_tunnel (stats.h). Reader: agent (sums CPUs). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, VXM_MAX_STATS);
	__type(key, struct vxm_stat_key);
	__type(value, struct vxm_stat);
} vxm_stats SEC(".maps");

/* vxm_pol_eps: {vni, mac} -> {ingress group, egress group} for every policy-selected endpoint of this
 * node's networks, local or not (a migrating VM is guarded as soon as its frames reach this node).
 * Writer: agent (dataplane/bpf/policy.ts). Reader: vxm_from_vm, vxm_from_tunnel (policy.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VXM_MAX_POL_EPS);
	__type(key, struct vxm_endpoint_key);
	__type(value, struct vxm_pol_ep);
} vxm_pol_eps SEC(".maps");

/* vxm_pol_rules: {group, peer prefix} -> allowed ports (disjoint regions, so the longest match is the
 * answer; ipBlock excepts are holes). Writer: agent. Reader: policy.h. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, VXM_MAX_POL_RULES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vxm_pol_key);
	__type(value, struct vxm_pol_value);
} vxm_pol_rules SEC(".maps");

/* vxm_pol_groups: group id -> {vni, direction, policy names}. Writer: agent. Reader: inspect only. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VXM_MAX_POL_GROUPS);
	__type(key, __u32);
	__type(value, struct vxm_pol_group);
} vxm_pol_groups SEC(".maps");

/* vxm_ct: the flow table, one bounded share per network. vni -> an LRU of that network's allowed flows
 * (original direction) -> last seen, VXM_CT_SHARE entries: a full share forgets that network's oldest
 * flows (their replies are then checked as new packets) and never another network's.
 * Writer: agent (outer: one inner map per network with a policy, dataplane/bpf/ct-shares.ts);
 * policy.h (inner entries). Reader: policy.h, agent (inspect: entries per share). */
struct vxm_ct_share {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, VXM_CT_SHARE);
	__type(key, struct vxm_ct_key);
	__type(value, struct vxm_ct_entry);
};
/* vxm_ct_abi: never read or written. A map declared with the share's key and value types, so that clang
 * emits them whole into BTF (a map-in-map's inner definition alone yields forward declarations, which
 * libbpf cannot size) and test/unit/bpf-abi.test.ts can check their mirrors. One entry. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, struct vxm_ct_key);
	__type(value, struct vxm_ct_entry);
} vxm_ct_abi SEC(".maps");
struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, VXM_MAX_NETWORKS);
	__type(key, __u32);
	__array(values, struct vxm_ct_share);
} vxm_ct SEC(".maps");

/* vxm_pol_stats: {group, verdict} -> per-CPU {packets, bytes}. Writer: policy.h. Reader: agent. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, VXM_MAX_STATS);
	__type(key, struct vxm_pol_stat_key);
	__type(value, struct vxm_stat);
} vxm_pol_stats SEC(".maps");

/* vxm_events: one record (struct vxm_event) per dropped frame, and per forwarded one while vxm_ev_config
 * says so. Writer: stats.h vxm_emit (every program). Reader: `vxmesh monitor` (dataplane/bpf/events-reader.ts). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, VXM_EV_RING_BYTES);
} vxm_events SEC(".maps");

/* vxm_ev_abi: never read or written, like vxm_ct_abi: a ring buffer has no value type, so this map carries
 * struct vxm_event into BTF for test/unit/bpf-abi.test.ts. One entry. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vxm_event);
} vxm_ev_abi SEC(".maps");

/* vxm_ev_cpu[0]: per CPU {event budget, sent, lost over budget, lost ring full}. Writer: stats.h vxm_emit.
 * Reader: agent (vxmesh_events_lost_total), `vxmesh monitor`. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vxm_ev_cpu);
} vxm_ev_cpu SEC(".maps");

/* vxm_ev_config[0]: {flags: TRACE}. Writer: `vxmesh monitor --all` (on while it runs), never the agent: a
 * reconcile rewriting vxm_config would race a flag there. Reader: stats.h. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vxm_ev_config);
} vxm_ev_config SEC(".maps");

#endif /* VXM_MAPS_H */
