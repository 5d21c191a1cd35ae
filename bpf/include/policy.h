/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy.h: MultiNetworkPolicy enforcement (issue 8), shared by vxm_from_vm and vxm_from_tunnel.
 * Maps: vxm_config, vxm_pol_eps, vxm_pol_rules (read); vxm_ct, vxm_pol_stats (read/write).
 *
 * vxm_policy() decides one frame: the sender's egress group (when the caller asks: frames a local VM
 * port sent) and the receiver's ingress group (when the frame is delivered on this node). Endpoints are
 * looked up by {vni, MAC} for every endpoint of the network, so enforcement does not depend on the
 * agent having seen the VM's port yet. A frame touching no selected endpoint costs one array lookup
 * (vxm_config flag) when no policy applies on the node, two hash lookups otherwise.
 *
 * Replies: our own flow table vxm_ct (one LRU share per network, vxm_maps.h), not the kernel's conntrack. TC at this point runs before any
 * netfilter hook and bpf_skb_ct_lookup is a kfunc for XDP/TC that needs nf_conntrack to have seen the
 * flow, which frames redirected VM-to-VM or into the tunnel never make it do; and on overlay networks
 * with overlapping CIDRs the tuple must include the VNI. Each allowed packet touching a selected
 * endpoint records its tuple (refreshed at most once a second); a packet whose reversed tuple was seen
 * within VXM_CT_TIMEOUT_NS passes as a reply.
 *
 * Bypasses closed before any policy lookup (vxm_port_guard, every frame a VM port sends, with or
 * without policies; vxm_to_port applies it to frames from ports not programmed yet, vxm_from_tunnel to
 * what a peer sent): an IPv4 frame to an L2 broadcast/multicast address must carry a broadcast or
 * multicast IPv4 destination (255.255.255.255, 224.0.0.0/4, the network's directed broadcast) -- a
 * unicast address inside it would be delivered to its owner without that owner's ingress group, which
 * is looked up by destination MAC; and DHCP from a VM is client DHCP only (dhcp.h). Only the two DHCP
 * legs dnsmasq needs pass every policy: client (68 -> 67) to the broadcast address or the gateway, and
 * server (67 -> 68) from the gateway's MAC.
 */
#ifndef VXM_POLICY_H
#define VXM_POLICY_H

#include <linux/in.h>
#include <linux/udp.h>
#include "vxm_maps.h"
#include "parse.h"
#include "dhcp.h"
#include "stats.h"

#define VXM_CT_TIMEOUT_NS (120ULL * 1000000000ULL)
#define VXM_CT_REFRESH_NS (1000000000ULL)
#define VXM_ICMP_ECHO_REPLY 0
#define VXM_ICMP_ECHO 8

struct vxm_flow {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 icmp_type;
};

static __always_inline void vxm_pol_count(__u32 group, __u32 verdict, __u32 bytes)
{
	struct vxm_pol_stat_key key = { .group = group, .verdict = verdict };
	struct vxm_stat *s = bpf_map_lookup_elem(&vxm_pol_stats, &key);

	if (!s) {
		struct vxm_stat init = { .packets = 1, .bytes = bytes };

		if (bpf_map_update_elem(&vxm_pol_stats, &key, &init, BPF_NOEXIST) == 0)
			return;
		s = bpf_map_lookup_elem(&vxm_pol_stats, &key);
		if (!s)
			return;
	}
	s->packets += 1;
	s->bytes += bytes;
}

static __always_inline int vxm_pol_enabled(void)
{
	__u32 zero = 0;
	struct vxm_config *c = bpf_map_lookup_elem(&vxm_config, &zero);

	return c && (c->flags & VXM_CFG_POLICY);
}

static __always_inline struct vxm_pol_ep *vxm_pol_ep_of(__u32 vni, const __u8 *mac)
{
	struct vxm_endpoint_key key = { .vni = vni };

	vxm_mac_copy(key.mac, mac);
	return bpf_map_lookup_elem(&vxm_pol_eps, &key);
}

static __always_inline struct vxm_network *vxm_network_of(__u32 vni)
{
	return bpf_map_lookup_elem(&vxm_networks, &vni);
}

/* 1 when an IPv4 frame to an L2 broadcast/multicast address carries a unicast IPv4 destination. */
static __always_inline int vxm_bcast_unicast(struct vxm_pkt *p, const struct vxm_network *net)
{
	struct iphdr *ip;

	if (p->proto != ETH_P_IP || !vxm_mac_is_multicast(p->eth->h_dest))
		return 0;
	ip = vxm_parse_ipv4(p);
	if (!ip)
		return 0; /* the caller's parser deals with it */
	if (ip->daddr == 0xffffffff || (ip->daddr & bpf_htonl(0xf0000000)) == bpf_htonl(0xe0000000))
		return 0;
	return !net || ip->daddr != net->bcast_ip;
}

/* Frames a VM sent (header): 0, or -VXM_E_BCAST_UNICAST / -VXM_E_DHCP (counted dropped-policy). A VNI
 * without network entry has nothing to guard. */
static __always_inline int vxm_port_guard(__u32 vni, struct vxm_pkt *p)
{
	struct vxm_network *net = vxm_network_of(vni);

	if (!net)
		return 0;
	if (vxm_bcast_unicast(p, net))
		return -VXM_E_BCAST_UNICAST;
	return vxm_dhcp_guard(p, net->gateway_ip, net->bcast_ip);
}

/* The DHCP legs that pass every policy (header). */
static __always_inline int vxm_dhcp_exempt(__u32 vni, struct vxm_pkt *p, struct vxm_flow *f)
{
	struct vxm_network *net;

	if (f->proto != IPPROTO_UDP)
		return 0;
	if (f->sport == bpf_htons(VXM_DHCP_CLIENT_PORT) && f->dport == bpf_htons(VXM_DHCP_SERVER_PORT)) {
		net = vxm_network_of(vni);
		return net && (f->daddr == 0xffffffff || f->daddr == net->gateway_ip);
	}
	if (f->sport == bpf_htons(VXM_DHCP_SERVER_PORT) && f->dport == bpf_htons(VXM_DHCP_CLIENT_PORT)) {
		net = vxm_network_of(vni);
		return net && vxm_mac_eq(p->eth->h_source, net->gateway_mac);
	}
	return 0;
}

/* IPv4 5-tuple (ICMP echo: id as both ports). Returns -VXM_E_MALFORMED when truncated. */
static __always_inline int vxm_flow_parse(struct vxm_pkt *p, struct vxm_flow *f)
{
	struct iphdr *ip = vxm_parse_ipv4(p);
	void *l4;

	if (!ip)
		return -VXM_E_MALFORMED;
	f->saddr = ip->saddr;
	f->daddr = ip->daddr;
	f->proto = ip->protocol;
	f->sport = 0;
	f->dport = 0;
	f->icmp_type = 0xff;
	if (ip->frag_off & bpf_htons(0x1fff))
		return 0; /* non-first fragment: no ports (matched by address-only rules) */
	l4 = (void *)ip + ip->ihl * 4;
	if (f->proto == IPPROTO_TCP || f->proto == IPPROTO_UDP || f->proto == IPPROTO_SCTP) {
		__be16 *ports = l4;

		if ((void *)(ports + 2) > p->data_end)
			return -VXM_E_MALFORMED;
		f->sport = ports[0];
		f->dport = ports[1];
	} else if (f->proto == IPPROTO_ICMP) {
		__u8 *icmp = l4;

		if ((void *)(icmp + 8) > p->data_end)
			return -VXM_E_MALFORMED;
		f->icmp_type = icmp[0];
		if (icmp[0] == VXM_ICMP_ECHO || icmp[0] == VXM_ICMP_ECHO_REPLY) {
			__builtin_memcpy(&f->sport, icmp + 4, 2);
			f->dport = f->sport;
		}
	}
	return 0;
}

/* Does `group` allow traffic with this peer address and destination port? 0 when it does, else what is
 * missing (VXM_M_NO_RULE: nothing for the address, VXM_M_NO_PORT: not this protocol/port). */
static __always_inline int vxm_pol_allows(__u32 group, __be32 peer, struct vxm_flow *f)
{
	struct vxm_pol_key key = { .prefixlen = 64, .group = group };
	struct vxm_pol_value *v;
	__u16 port = bpf_ntohs(f->dport);
	int i;

	__builtin_memcpy(key.addr, &peer, 4);
	v = bpf_map_lookup_elem(&vxm_pol_rules, &key);
	if (!v)
		return VXM_M_NO_RULE;
	if (v->flags & VXM_POL_ANY)
		return 0;
	if (f->proto != IPPROTO_TCP && f->proto != IPPROTO_UDP && f->proto != IPPROTO_SCTP)
		return VXM_M_NO_PORT;
	for (i = 0; i < VXM_POL_MAX_RANGES; i++) {
		if (i >= v->count)
			break;
		if (v->ranges[i].proto == f->proto && port >= v->ranges[i].from && port <= v->ranges[i].to)
			return 0;
	}
	return VXM_M_NO_PORT;
}

/* A denial by `group` (direction 0 ingress, 1 egress) for the event (stats.h). */
static __always_inline int vxm_pol_deny(struct vxm_why *w, __u32 group, __u32 direction, __u32 miss, __u32 bytes)
{
	vxm_pol_count(group, VXM_PV_DENY, bytes);
	w->group = group;
	w->direction = direction;
	w->miss = miss;
	return -VXM_E_POLICY;
}

static __always_inline void vxm_ct_key_of(struct vxm_ct_key *k, __u32 vni, struct vxm_flow *f, int reverse)
{
	k->vni = vni;
	k->saddr = reverse ? f->daddr : f->saddr;
	k->daddr = reverse ? f->saddr : f->daddr;
	k->sport = reverse ? f->dport : f->sport;
	k->dport = reverse ? f->sport : f->dport;
	k->proto = f->proto;
}

/*
 * 0 = pass, -VXM_E_POLICY = drop (the group, direction and what was missing noted in `w`). check_src: apply
 * the sender's egress group; check_dst: apply the receiver's ingress group (the frame is delivered on this
 * node). ARP and the DHCP legs of vxm_dhcp_exempt always pass; other non-IPv4 frames are dropped in a
 * direction that is selected.
 */
static __always_inline int vxm_policy(struct __sk_buff *skb, __u32 vni, struct vxm_pkt *p, int check_src, int check_dst, struct vxm_why *w)
{
	struct vxm_pol_ep *src, *dst;
	__u32 g_src = 0, g_dst = 0;
	struct vxm_ct_key ck = {};
	struct vxm_ct_entry *ce, fresh;
	void *ct;
	struct vxm_flow f = {};
	__u64 now;
	int miss;

	if (!vxm_pol_enabled() || p->proto == ETH_P_ARP)
		return 0;
	src = vxm_pol_ep_of(vni, p->eth->h_source);
	dst = vxm_mac_is_multicast(p->eth->h_dest) ? NULL : vxm_pol_ep_of(vni, p->eth->h_dest);
	if (!src && !dst)
		return 0;
	if (check_src && src)
		g_src = src->egress;
	if (check_dst && dst)
		g_dst = dst->ingress;
	if (p->proto != ETH_P_IP || vxm_flow_parse(p, &f) < 0) {
		if (!g_src && !g_dst)
			return 0;
		return vxm_pol_deny(w, g_dst ? g_dst : g_src, g_dst ? 0 : 1, VXM_M_NOT_IPV4, skb->len);
	}
	if (vxm_dhcp_exempt(vni, p, &f))
		return 0;
	now = bpf_ktime_get_ns();
	ct = bpf_map_lookup_elem(&vxm_ct, &vni); /* the network's share; none yet: no replies, nothing recorded */
	if (g_src || g_dst) {
		vxm_ct_key_of(&ck, vni, &f, 1);
		ce = ct ? bpf_map_lookup_elem(ct, &ck) : NULL;
		if (ce && now - ce->last_seen < VXM_CT_TIMEOUT_NS && !(f.proto == IPPROTO_ICMP && f.icmp_type == VXM_ICMP_ECHO)) {
			vxm_pol_count(g_dst ? g_dst : g_src, VXM_PV_REPLY, skb->len);
			return 0;
		}
		if (g_src && (miss = vxm_pol_allows(g_src, f.daddr, &f)))
			return vxm_pol_deny(w, g_src, 1, miss, skb->len);
		if (g_dst && (miss = vxm_pol_allows(g_dst, f.saddr, &f)))
			return vxm_pol_deny(w, g_dst, 0, miss, skb->len);
		if (g_src)
			vxm_pol_count(g_src, VXM_PV_ALLOW, skb->len);
		if (g_dst)
			vxm_pol_count(g_dst, VXM_PV_ALLOW, skb->len);
	}
	/* Allowed and touching a selected endpoint: remember the flow so its replies pass. ICMP echo
	 * replies and errors are never originals. */
	if ((f.proto == IPPROTO_ICMP && f.icmp_type != VXM_ICMP_ECHO) || !ct)
		return 0;
	vxm_ct_key_of(&ck, vni, &f, 0);
	ce = bpf_map_lookup_elem(ct, &ck);
	if (ce && now - ce->last_seen < VXM_CT_REFRESH_NS)
		return 0;
	fresh.last_seen = now;
	bpf_map_update_elem(ct, &ck, &fresh, BPF_ANY);
	return 0;
}

#endif /* VXM_POLICY_H */
