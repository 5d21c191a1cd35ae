/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dhcp.h: recognises DHCP (IPv4 UDP to port 67 or 68). Every node answers its own VMs' DHCP from the
 * dnsmasq in the network's router namespace, so DHCP must stay on the node: vxm_from_vm does not
 * replicate it to peer VTEPs and vxm_from_tunnel drops it (the kernel dataplane drops it at the vxl
 * ports with nft instead).
 *
 * A VM may only be a DHCP client (vxm_dhcp_guard, VM ports, whether or not policies exist; the kernel
 * dataplane's mirror is src/dataplane/dhcp/filter.ts):
 *  - UDP from port 67 (a server's message: a rogue DHCP server) is dropped;
 *  - UDP to port 67 of the node's dnsmasq (255.255.255.255, the gateway or the directed broadcast) must
 *    be a client message: from port 68, a BOOTREQUEST whose chaddr is the frame's source MAC
 *    (anti-spoofing made that the VM's own), so no VM can DECLINE or RELEASE another VM's lease. UDP to
 *    port 67 of another address is plain UDP, subject to policies like any other.
 * DHCP to a VM (UDP 67 -> 68) therefore comes from the gateway leg only; policy.h lets exactly these two
 * legs through every policy.
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

#define VXM_BOOTREQUEST 1
#define VXM_DHCP_CHADDR_OFF 28 /* op htype hlen hops, xid, secs flags, ciaddr yiaddr siaddr giaddr */

/* The IPv4 and UDP headers of an IPv4 first fragment (or whole datagram), else NULL. */
static __always_inline struct udphdr *vxm_parse_ip_udp(struct vxm_pkt *p, struct iphdr **ipp)
{
	struct iphdr *ip;
	struct udphdr *udp;

	if (p->proto != ETH_P_IP)
		return NULL;
	ip = vxm_parse_ipv4(p);
	if (!ip)
		return NULL;
	udp = vxm_parse_udp(p, ip);
	if (udp)
		*ipp = ip;
	return udp;
}

/* 1 when the frame is an IPv4 UDP datagram (first fragment or whole) to port 67 or 68, else 0. */
static __always_inline int vxm_is_dhcp(struct vxm_pkt *p)
{
	struct iphdr *ip = NULL;
	struct udphdr *udp = vxm_parse_ip_udp(p, &ip);

	if (!udp)
		return 0;
	return udp->dest == bpf_htons(VXM_DHCP_SERVER_PORT) || udp->dest == bpf_htons(VXM_DHCP_CLIENT_PORT);
}

/* A frame a VM port sent: 0, or -VXM_E_DHCP when it is DHCP a VM may not send (header). `gateway`,
 * `bcast`: the network's gateway and directed broadcast, where the node's dnsmasq receives. */
static __always_inline int vxm_dhcp_guard(struct vxm_pkt *p, __be32 gateway, __be32 bcast)
{
	struct iphdr *ip = NULL;
	struct udphdr *udp = vxm_parse_ip_udp(p, &ip);
	__u8 *bootp, *chaddr;

	if (!udp || !ip)
		return 0;
	if (udp->source == bpf_htons(VXM_DHCP_SERVER_PORT))
		return -VXM_E_DHCP;
	if (udp->dest != bpf_htons(VXM_DHCP_SERVER_PORT))
		return 0;
	if (ip->daddr != 0xffffffff && ip->daddr != gateway && ip->daddr != bcast)
		return 0; /* not for the server: plain UDP, policies decide */
	if (udp->source != bpf_htons(VXM_DHCP_CLIENT_PORT))
		return -VXM_E_DHCP;
	bootp = (void *)(udp + 1);
	chaddr = bootp + VXM_DHCP_CHADDR_OFF;
	if ((void *)(chaddr + 6) > p->data_end)
		return -VXM_E_DHCP;
	if (bootp[0] != VXM_BOOTREQUEST || !vxm_mac_eq(chaddr, p->eth->h_source))
		return -VXM_E_DHCP;
	return 0;
}

#endif /* VXM_DHCP_H */
