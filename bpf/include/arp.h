/* SPDX-License-Identifier: Apache-2.0 */
/*
 * arp.h: the ARP responder, split as validate / prepare / respond. Answers requests for addresses in
 * vxm_arp by rewriting the request into a reply in place; the entry point sends it back out of the
 * port it came from, so no ARP request for a known address ever leaves the node.
 */
#ifndef VXM_ARP_H
#define VXM_ARP_H

#include "parse.h"
#include "vxm_maps.h"

enum vxm_arp_result {
	VXM_ARP_NOT_HANDLED = 0, /* not a request for a known address: forward normally */
	VXM_ARP_ANSWERED = 1,    /* rewritten into a reply: send back out of the ingress port */
	VXM_ARP_SELF = 2,        /* the requester asks for its own address (probe/announce): keep local */
};

/* validate: an ARP request for Ethernet/IPv4 whose target we know. */
static __always_inline struct vxm_arp_entry *vxm_arp_validate(__u32 vni, struct vxm_arphdr *arp)
{
	struct vxm_arp_key key = { .vni = vni };

	if (arp->op != bpf_htons(VXM_ARP_REQUEST))
		return NULL;
	__builtin_memcpy(&key.ip, arp->tpa, 4);
	return bpf_map_lookup_elem(&vxm_arp, &key);
}

/* prepare + respond: turn the request into the reply in place (Ethernet and ARP headers). */
static __always_inline void vxm_arp_rewrite(struct ethhdr *eth, struct vxm_arphdr *arp, const __u8 *answer_mac)
{
	__u8 req_mac[6];
	__u8 req_ip[4];
	__u8 target_ip[4];

	vxm_mac_copy(req_mac, arp->sha);
	__builtin_memcpy(req_ip, arp->spa, 4);
	__builtin_memcpy(target_ip, arp->tpa, 4);

	vxm_mac_copy(eth->h_dest, eth->h_source);
	vxm_mac_copy(eth->h_source, answer_mac);
	arp->op = bpf_htons(VXM_ARP_REPLY);
	vxm_mac_copy(arp->tha, req_mac);
	__builtin_memcpy(arp->tpa, req_ip, 4);
	vxm_mac_copy(arp->sha, answer_mac);
	__builtin_memcpy(arp->spa, target_ip, 4);
}

static __always_inline int vxm_arp_respond(__u32 vni, struct vxm_pkt *p)
{
	struct vxm_arphdr *arp = vxm_parse_arp(p);
	struct vxm_arp_entry *entry;
	__u8 mac[6];

	if (!arp)
		return VXM_ARP_NOT_HANDLED;
	entry = vxm_arp_validate(vni, arp);
	if (!entry)
		return VXM_ARP_NOT_HANDLED;
	vxm_mac_copy(mac, entry->mac);
	if (vxm_mac_eq(mac, arp->sha))
		return VXM_ARP_SELF;
	vxm_arp_rewrite(p->eth, arp, mac);
	return VXM_ARP_ANSWERED;
}

#endif /* VXM_ARP_H */
