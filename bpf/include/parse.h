/* SPDX-License-Identifier: Apache-2.0 */
/*
 * parse.h: header access with bounds checks, no policy. Every accessor checks `hdr + 1 > data_end`
 * before returning a pointer; callers reload pointers after any helper that may resize the skb.
 */
#ifndef VXM_PARSE_H
#define VXM_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "vxm_abi.h"

#define VXM_ETH_P_VLAN 0x8100
#define VXM_ETH_P_QINQ 0x88A8

/* ARP for Ethernet/IPv4, laid out as on the wire (linux/if_arp.h stops before the addresses). */
struct vxm_arphdr {
	__be16 htype;
	__be16 ptype;
	__u8 hlen;
	__u8 plen;
	__be16 op;
	__u8 sha[6];
	__u8 spa[4];
	__u8 tha[6];
	__u8 tpa[4];
} __attribute__((packed));

#define VXM_ARP_REQUEST 1
#define VXM_ARP_REPLY 2

struct vxm_pkt {
	void *data;
	void *data_end;
	struct ethhdr *eth;
	__u16 proto; /* host order */
};

/* Loads skb data pointers and the Ethernet header. */
static __always_inline int vxm_parse_eth(struct __sk_buff *skb, struct vxm_pkt *p)
{
	p->data = (void *)(long)skb->data;
	p->data_end = (void *)(long)skb->data_end;
	p->eth = p->data;
	if ((void *)(p->eth + 1) > p->data_end)
		return -VXM_E_MALFORMED;
	p->proto = bpf_ntohs(p->eth->h_proto);
	if (p->proto == VXM_ETH_P_VLAN || p->proto == VXM_ETH_P_QINQ)
		return -VXM_E_VLAN;
	return 0;
}

/* Returns the ARP header of an Ethernet/IPv4 ARP packet, or NULL when truncated or another kind. */
static __always_inline struct vxm_arphdr *vxm_parse_arp(struct vxm_pkt *p)
{
	struct vxm_arphdr *arp = (void *)(p->eth + 1);

	if ((void *)(arp + 1) > p->data_end)
		return NULL;
	if (arp->htype != bpf_htons(1) || arp->ptype != bpf_htons(ETH_P_IP) || arp->hlen != 6 || arp->plen != 4)
		return NULL;
	return arp;
}

/* Returns the IPv4 header, or NULL when truncated (including options) or not version 4. */
static __always_inline struct iphdr *vxm_parse_ipv4(struct vxm_pkt *p)
{
	struct iphdr *ip = (void *)(p->eth + 1);

	if ((void *)(ip + 1) > p->data_end)
		return NULL;
	if (ip->version != 4 || ip->ihl < 5)
		return NULL;
	if ((void *)ip + ip->ihl * 4 > p->data_end)
		return NULL;
	return ip;
}

/* Returns the UDP header of an IPv4 datagram's first (or only) fragment, or NULL when truncated,
 * another protocol or a later fragment (which carries no UDP header). `ip` from vxm_parse_ipv4. */
static __always_inline struct udphdr *vxm_parse_udp(struct vxm_pkt *p, struct iphdr *ip)
{
	struct udphdr *udp;

	if (ip->protocol != IPPROTO_UDP || (ip->frag_off & bpf_htons(0x1fff)))
		return NULL;
	udp = (void *)ip + ip->ihl * 4;
	if ((void *)(udp + 1) > p->data_end)
		return NULL;
	return udp;
}

static __always_inline int vxm_mac_is_multicast(const __u8 *mac)
{
	return mac[0] & 1; /* also broadcast */
}

static __always_inline int vxm_mac_eq(const __u8 *a, const __u8 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] && a[5] == b[5];
}

static __always_inline void vxm_mac_copy(__u8 *dst, const __u8 *src)
{
	__builtin_memcpy(dst, src, 6);
}

#endif /* VXM_PARSE_H */
