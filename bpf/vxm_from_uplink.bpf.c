/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vxm_from_uplink: TC ingress of each cluster network's uplink (the operator's NIC, bond or bridge):
 * native decapsulation (issue 14, ingress half), the way ONCache and Cilium's draft native datapath do it.
 * Maps: vxm_networks, vxm_vteps, vxm_endpoints, policy maps (read); vxm_stats, vxm_ct, vxm_pol_stats,
 * vxm_endpoints (write: a migrated VM's move, tunnel_rx.h).
 *
 * It takes only what it can deliver exactly as vxm_from_tunnel would, and hands everything else on
 * unchanged with TC_ACT_UNSPEC: the next TC filter on the device (the operator's own programs run after
 * vxmesh's, never instead of them), then the stack, vxe0's UDP socket and vxm_from_tunnel, which decide as
 * before (rogue VTEPs and unknown VNIs dropped and counted there, broadcast to the bridge, ...).
 * Taken: an IPv4 packet (no options, not a fragment) of UDP to this cluster network's VTEP address and port
 * on its own uplink, a VxLAN header with only the I flag, a VNI this node holds, from a member VTEP; inside,
 * a unicast untagged IPv4 frame to an endpoint LOCAL on a bound port, no DHCP, no broadcast address. Then,
 * as vxm_from_tunnel: a migrated VM's move (tunnel_rx.h), the receiver's ingress policy (denied:
 * dropped-policy, here), then bpf_skb_adjust_room(-50) at the MAC, the inner Ethernet header written over the
 * outer one, and bpf_redirect_peer into the VM (forwarded-local and decap-native). VxLAN to this node that it
 * leaves to vxe0 is counted decap-fallback.
 *
 * GRO-merged packets (skb->gso_size > 0) are left to vxe0. On this kernel (6.18) a shrink in BPF cannot
 * clear the tunnel GSO state (BPF_F_ADJ_ROOM_DECAP_L4_UDP is only in bpf-next): the packet would reach the
 * VM still typed SKB_GSO_UDP_TUNNEL with skb->encapsulation set. A local socket would not care (ONCache
 * relies on that), but a KubeVirt VM sits behind a bridge and a tap in its pod, where the packet is
 * forwarded and segmented again with offsets that describe headers that no longer exist. vxe0's GRO
 * (vxlan_gro_receive) already merges a bulk flow into one super-packet per batch, so what the fallback costs
 * there is one decapsulation per super-packet, not per segment; the native path wins on what GRO cannot
 * merge: small packets, request/response. The bench measures both (bench/results).
 *
 * Checksums: the shrink resets CHECKSUM_UNNECESSARY (the outer UDP's validation says nothing about the
 * inner packet), so the VM's stack verifies the inner checksum itself; CHECKSUM_PARTIAL (a veth peer's
 * packet) keeps its offsets, which point at the inner headers that do not move.
 * verifier: all header reads are bounds-checked against data_end before the shrink; after it, nothing is
 * read through a packet pointer (the inner Ethernet header was copied to the stack before).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "include/vxm_abi.h"
#include "include/vxm_maps.h"
#include "include/parse.h"
#include "include/stats.h"
#include "include/policy.h"
#include "include/tunnel_rx.h"
#include "include/encap.h"

struct vxm_vxlanhdr {
	__be32 flags; /* the I flag and reserved bits */
	__be32 vni;   /* vni << 8 */
};

/* The outer headers of a VxLAN packet to this node's VTEP on this uplink: the network, or NULL. */
static __always_inline struct vxm_network *vxm_outer_vxlan(struct __sk_buff *skb, struct vxm_pkt *o, __u32 *vni, __u32 *vtep, struct ethhdr **inner)
{
	struct iphdr *ip;
	struct udphdr *udp;
	struct vxm_vxlanhdr *vx;
	struct vxm_network *net;

	if (vxm_parse_eth(skb, o) < 0 || o->proto != ETH_P_IP)
		return NULL;
	ip = (void *)(o->eth + 1);
	if ((void *)(ip + 1) > o->data_end || ip->version != 4 || ip->ihl != 5 || ip->protocol != IPPROTO_UDP)
		return NULL;
	if (ip->frag_off & bpf_htons(0x3fff)) /* MF or an offset */
		return NULL;
	udp = (void *)(ip + 1);
	vx = (void *)(udp + 1);
	*inner = (void *)(vx + 1);
	if ((void *)(*inner + 1) > o->data_end)
		return NULL;
	if (vx->flags != bpf_htonl(VXM_VXLAN_FLAG_VNI) || (vx->vni & bpf_htonl(0xff)))
		return NULL;
	*vni = bpf_ntohl(vx->vni) >> 8;
	net = bpf_map_lookup_elem(&vxm_networks, vni);
	if (!net || net->uplink_ifindex != skb->ifindex || net->local_vtep != ip->daddr || net->vtep_port != udp->dest)
		return NULL;
	*vtep = bpf_ntohl(ip->saddr);
	return net;
}

SEC("tc")
int vxm_from_uplink(struct __sk_buff *skb)
{
	struct vxm_endpoint_key ek = {};
	struct vxm_endpoint *ep;
	struct vxm_network *net;
	struct ethhdr *inner = NULL, eth;
	struct vxm_why w = { .hook = VXM_HOOK_FROM_UPLINK, .l2_off = VXM_ENCAP_ROOM };
	struct vxm_pkt o, p;
	__u32 vni = 0, vtep = 0, ifindex, len;

	net = vxm_outer_vxlan(skb, &o, &vni, &vtep, &inner);
	if (!net || !inner)
		return TC_ACT_UNSPEC; /* not vxmesh's */
	len = skb->len - VXM_ENCAP_ROOM;
	w.vni = vni;
	w.outer_src = vtep;
	w.outer_dst = bpf_ntohl(net->local_vtep);
	/* from here on it is VxLAN to this node: vxe0 takes what the checks below do not */
	if (!vxm_vtep_member(net, vtep) || skb->gso_size)
		goto fallback;
	p.data = o.data;
	p.data_end = o.data_end;
	p.eth = inner;
	p.proto = bpf_ntohs(inner->h_proto);
	if (p.proto != ETH_P_IP || vxm_mac_is_multicast(inner->h_dest))
		goto fallback;
	ek.vni = vni;
	vxm_mac_copy(ek.mac, inner->h_dest);
	ep = bpf_map_lookup_elem(&vxm_endpoints, &ek);
	if (!ep || !(ep->flags & VXM_EP_LOCAL) || !ep->ifindex)
		goto fallback;
	ifindex = ep->ifindex;
	if (vxm_is_dhcp(&p) || vxm_bcast_unicast(&p, net))
		goto fallback; /* vxm_from_tunnel drops and counts them */
	vxm_learn_move(net, vni, vtep, inner->h_source);
	if (vxm_policy(skb, vni, &p, 0, 1, &w) < 0) {
		vxm_drop(skb, &w, VXM_V_DROP_POLICY, -VXM_E_POLICY, len);
		return TC_ACT_SHOT;
	}
	if (bpf_skb_load_bytes(skb, VXM_ENCAP_ROOM, &eth, sizeof(eth)) < 0)
		goto fallback;
	if (bpf_skb_adjust_room(skb, -(__s32)VXM_ENCAP_ROOM, BPF_ADJ_ROOM_MAC, 0) < 0)
		goto fallback;
	w.l2_off = 0; /* decapsulated */
	if (bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0) < 0) {
		vxm_drop(skb, &w, VXM_V_DROP_MALFORMED, -VXM_E_MALFORMED, len);
		return TC_ACT_SHOT;
	}
	vxm_count(skb, &w, VXM_V_FWD_LOCAL, len);
	vxm_count(skb, &w, VXM_V_DECAP_NATIVE, len);
	return bpf_redirect_peer(ifindex, 0);

fallback:
	vxm_count(skb, &w, VXM_V_DECAP_FALLBACK, len);
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "GPL";
