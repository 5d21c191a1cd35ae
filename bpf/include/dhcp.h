/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dhcp.h: recognises DHCP (IPv4 UDP to port 67 or 68). Every node answers its own VMs' DHCP from the
 * dnsmasq in the network's router namespace, so DHCP must stay on the node: vxm_from_vm does not
 * replicate it to peer VTEPs (the kernel dataplane drops it at the vxl ports with nft instead).
 */
#ifndef VXM_DHCP_H
#define VXM_DHCP_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include "parse.h"

#define VXM_DHCP_SERVER_PORT 67
#define VXM_DHCP_CLIENT_PORT 68

/* 1 when the frame is an IPv4 UDP datagram (first fragment or whole) to port 67 or 68, else 0. */
static __always_inline int vxm_is_dhcp(struct vxm_pkt *p)
{
	struct iphdr *ip;
	struct udphdr *udp;
	__u16 dport;

	if (p->proto != ETH_P_IP)
		return 0;
	ip = vxm_parse_ipv4(p);
	if (!ip || ip->protocol != IPPROTO_UDP)
		return 0;
	if (ip->frag_off & bpf_htons(0x1fff))
		return 0; /* a later fragment carries no UDP header */
	udp = (void *)ip + ip->ihl * 4;
	if ((void *)(udp + 1) > p->data_end)
		return 0;
	dport = bpf_ntohs(udp->dest);
	return dport == VXM_DHCP_SERVER_PORT || dport == VXM_DHCP_CLIENT_PORT;
}

#endif /* VXM_DHCP_H */
