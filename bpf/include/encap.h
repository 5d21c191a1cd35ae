/* SPDX-License-Identifier: Apache-2.0 */
/*
 * encap.h: native VxLAN encapsulation in TC (issue 14, egress half), the way ONCache and Cilium's draft
 * native datapath do it. For unicast to a remote endpoint vxm_from_vm builds the tunnel itself instead of
 * handing the frame to vxe0 (set_tunnel_key, then the kernel's vxlan driver and a route lookup per packet):
 *  1. the next hop: bpf_fib_lookup(OUTPUT) from this node's VTEP address to the remote VTEP, constrained to
 *     the cluster network's uplink, with the outer length of one packet (one segment of a GSO packet), so
 *     the kernel's own FIB, neighbour table and MTU decide; nothing is cached in BPF (no stale next hop);
 *  2. bpf_skb_adjust_room(+50, MAC, FIXED_GSO | ENCAP_L3_IPV4 | ENCAP_L4_UDP | ENCAP_L2_ETH | ENCAP_L2(14)):
 *     room for outer IPv4 + UDP + VxLAN + the inner Ethernet header behind the outer one; the skb is marked
 *     encapsulated with its inner offsets, so GSO/TSO segment the inner TCP and write every outer header per
 *     segment, and a CHECKSUM_PARTIAL inner checksum is still completed (by the NIC or in software);
 *  3. one 64-byte store: outer Ethernet (FIB's MACs), outer IPv4 (DF clear, TTL 64, random id, checksum),
 *     UDP (source port from the flow hash: entropy for ECMP and RSS; checksum 0, as RFC 7348 allows and as
 *     the kernel's vxlan device sends by default), VxLAN (I flag, VNI), the original Ethernet header;
 *  4. bpf_redirect to the FIB's output device.
 * The frame takes today's path (set_tunnel_key + vxe0, counted encap-fallback) whenever the native path
 * cannot take it: the network has no underlay programmed, a FIB result other than SUCCESS (no route,
 * NO_NEIGH: the neighbour is unresolved and vxe0 resolves it; FRAG_NEEDED: vxe0 sends the VM the error it
 * should get), a GSO packet that is not TCP over IPv4 (its segment length unknown here), an skb that is
 * already encapsulated (adjust_room: -EALREADY), or native encapsulation turned off (VXM_CFG_NATIVE_OFF).
 * Trade-offs an operator should know: the outer packets leave without passing the node's netfilter OUTPUT
 * and POSTROUTING hooks (as with any TC redirect), and their UDP checksum is 0.
 * The receiving side is unchanged: vxe0's UDP socket decapsulates, vxm_from_tunnel decides.
 * verifier: every header read goes through bpf_skb_load_bytes or a fresh vxm_parse_* (adjust_room and
 * store_bytes invalidate packet pointers; nothing is read through one after them).
 */
#ifndef VXM_ENCAP_H
#define VXM_ENCAP_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "vxm_abi.h"
#include "vxm_maps.h"
#include "parse.h"

#define VXM_AF_INET 2
/* outer IPv4 + UDP + VxLAN: what the tunnel adds to the inner frame's length */
#define VXM_ENCAP_OUTER (sizeof(struct iphdr) + sizeof(struct udphdr) + 8)
/* bpf_skb_adjust_room at the MAC header: the outer headers after it and the inner Ethernet header */
#define VXM_ENCAP_ROOM (VXM_ENCAP_OUTER + sizeof(struct ethhdr))
#define VXM_ENCAP_FLAGS (BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_ENCAP_L3_IPV4 | BPF_F_ADJ_ROOM_ENCAP_L4_UDP | \
			 BPF_F_ADJ_ROOM_ENCAP_L2_ETH | BPF_F_ADJ_ROOM_ENCAP_L2(sizeof(struct ethhdr)))
#define VXM_VXLAN_FLAG_VNI 0x08000000 /* the I flag: the VNI is valid */

/* What the one store writes at the start of the resized frame: outer Ethernet, IPv4, UDP, VxLAN, then the
 * inner Ethernet header (offsets below; a byte array, because the IPv4 header sits at an unaligned 14). */
#define VXM_OFF_IP sizeof(struct ethhdr)
#define VXM_OFF_UDP (VXM_OFF_IP + sizeof(struct iphdr))
#define VXM_OFF_VXLAN (VXM_OFF_UDP + sizeof(struct udphdr))
#define VXM_OFF_INNER (VXM_OFF_VXLAN + 8)
#define VXM_ENCAP_HDR (VXM_OFF_INNER + sizeof(struct ethhdr))
_Static_assert(VXM_ENCAP_HDR == sizeof(struct ethhdr) + VXM_ENCAP_ROOM, "encapsulation header size");

/* The inner L3 length of the packet, or of each segment of a GSO packet; 0 when unknown (fallback). */
static __always_inline __u32 vxm_inner_l3_len(struct __sk_buff *skb)
{
	struct vxm_pkt p;
	struct iphdr *ip;
	struct tcphdr *tcp;

	if (!skb->gso_size)
		return skb->len - sizeof(struct ethhdr);
	if (vxm_parse_eth(skb, &p) < 0 || p.proto != ETH_P_IP)
		return 0;
	ip = vxm_parse_ipv4(&p);
	if (!ip || ip->protocol != IPPROTO_TCP)
		return 0;
	tcp = (void *)ip + ip->ihl * 4;
	if ((void *)(tcp + 1) > p.data_end)
		return 0;
	return ip->ihl * 4 + tcp->doff * 4 + skb->gso_size;
}

static __always_inline __u16 vxm_csum_fold(__s64 sum)
{
	__u32 s = (__u32)sum;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/*
 * Encapsulates the frame for `remote_vtep` (host order) in the VNI. Returns the ifindex to redirect to,
 * -VXM_E_NATIVE when the frame should take the vxe0 path (nothing was changed), or -VXM_E_ENCAP_BROKEN when
 * the frame was resized but could not be written (it must be dropped).
 */
static __always_inline int vxm_encap_native(struct __sk_buff *skb, __u32 vni, __u32 remote_vtep)
{
	__u32 zero = 0;
	struct vxm_config *cfg = bpf_map_lookup_elem(&vxm_config, &zero);
	struct vxm_network *net = bpf_map_lookup_elem(&vxm_networks, &vni);
	struct bpf_fib_lookup fib = {};
	__u8 hdr[VXM_ENCAP_HDR] = {};
	struct ethhdr eth = {};
	struct iphdr ip = {};
	struct udphdr udp = {};
	__be32 vxlan[2];
	__be32 saddr, daddr = bpf_htonl(remote_vtep);
	__be16 dport;
	__u32 inner, hash;

	if (!cfg || (cfg->flags & VXM_CFG_NATIVE_OFF) || !net || !net->local_vtep || !net->uplink_ifindex || !net->vtep_port)
		return -VXM_E_NATIVE;
	saddr = net->local_vtep;
	dport = net->vtep_port;
	inner = vxm_inner_l3_len(skb);
	if (!inner || inner > 0xffff)
		return -VXM_E_NATIVE;
	fib.family = VXM_AF_INET;
	fib.ipv4_src = saddr;
	fib.ipv4_dst = daddr;
	fib.ifindex = net->uplink_ifindex;
	fib.tot_len = inner + sizeof(struct ethhdr) + VXM_ENCAP_OUTER;
	if (bpf_fib_lookup(skb, &fib, sizeof(fib), BPF_FIB_LOOKUP_OUTPUT) != BPF_FIB_LKUP_RET_SUCCESS)
		return -VXM_E_NATIVE;
	if (bpf_skb_load_bytes(skb, 0, hdr + VXM_OFF_INNER, sizeof(struct ethhdr)) < 0)
		return -VXM_E_NATIVE;
	hash = bpf_get_hash_recalc(skb);
	if (bpf_skb_adjust_room(skb, VXM_ENCAP_ROOM, BPF_ADJ_ROOM_MAC, VXM_ENCAP_FLAGS) < 0)
		return -VXM_E_NATIVE;

	__builtin_memcpy(eth.h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth.h_source, fib.smac, ETH_ALEN);
	eth.h_proto = bpf_htons(ETH_P_IP);
	ip.version = 4;
	ip.ihl = 5;
	ip.tot_len = bpf_htons(skb->len - sizeof(struct ethhdr));
	ip.id = (__be16)bpf_get_prandom_u32();
	ip.ttl = 64;
	ip.protocol = IPPROTO_UDP;
	ip.saddr = saddr;
	ip.daddr = daddr;
	ip.check = vxm_csum_fold(bpf_csum_diff(0, 0, (__be32 *)&ip, sizeof(ip), 0));
	udp.source = bpf_htons(0xc000 | ((hash ^ (hash >> 16)) & 0x3fff));
	udp.dest = dport;
	udp.len = bpf_htons(skb->len - sizeof(struct ethhdr) - sizeof(struct iphdr));
	vxlan[0] = bpf_htonl(VXM_VXLAN_FLAG_VNI);
	vxlan[1] = bpf_htonl(vni << 8);
	__builtin_memcpy(hdr, &eth, sizeof(eth));
	__builtin_memcpy(hdr + VXM_OFF_IP, &ip, sizeof(ip));
	__builtin_memcpy(hdr + VXM_OFF_UDP, &udp, sizeof(udp));
	__builtin_memcpy(hdr + VXM_OFF_VXLAN, vxlan, sizeof(vxlan));
	if (bpf_skb_store_bytes(skb, 0, hdr, sizeof(hdr), 0) < 0)
		return -VXM_E_ENCAP_BROKEN;
	return fib.ifindex;
}

#endif /* VXM_ENCAP_H */
