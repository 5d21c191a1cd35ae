/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vxm_from_vm: TC ingress of every VM port (a non-vxmesh member of bridge vxb<vni>: flag VM when it is
 * bound to a VM NIC of this node, UNBOUND otherwise) and of the gateway leg vxg<vni> (flag GATEWAY);
 * i.e. frames a VM (or the node's router) sends.
 * Maps: vxm_ports, vxm_endpoints, vxm_arp, vxm_networks (none), vxm_flood, vxm_config (read);
 *       vxm_stats, vxm_endpoints (write: an arriving VM's promotion, see "Live migration").
 *
 * Ports are bound, not learned. Whoever plugs a VM's port names its VM NIC in the port's interface
 * alias (dataplane/port-binding.ts); the agent writes that port's ifindex into the NIC's vxm_endpoints
 * entry. Neither the bridge's FDB nor a port's first frame ever decides which VM a port belongs to.
 *
 *  0. UNBOUND ports: every frame dropped (dropped-unbound). VM ports: frame hygiene first. VLAN-tagged
 *     frames (the tag still in-band, or already stripped into skb->vlan_present by the kernel before TC)
 *     are dropped (dropped-malformed), IPv6 too (dropped-ipv6): the overlay carries untagged IPv4/ARP
 *     only, and this also closes unchecked IPv6 sources and router advertisements.
 *  1. VM ports only: anti-spoofing. The source MAC must be an endpoint of the port's VNI whose entry's
 *     ifindex is exactly this port (an entry with ifindex 0 admits nothing), LOCAL, or ARRIVING (below);
 *     an IPv4 source / ARP sender must map to that MAC in vxm_arp; 0.0.0.0 only as the source of a DHCP
 *     client message (UDP 68 -> 67) or the sender of an ARP probe (request). Else drop (dropped-spoof).
 *  2. ARP requests for a known address: answered in place, sent back out of this port (arp-answered).
 *  3. Broadcast/multicast (VM ports): one clone per peer VTEP to vxe0 (flooded), then the local bridge;
 *     DHCP (UDP to 67/68) only to the local bridge: the local router namespace answers it.
 *  4. Unicast to a remote endpoint: encapsulated here and redirected to the uplink (forwarded-tunnel and
 *     encap-native, encap.h), or, when the native path cannot take it, tunnel key + redirect to vxe0
 *     (forwarded-tunnel and encap-fallback); to a local
 *     endpoint on its bound port: bpf_redirect_peer (forwarded-local); anything else (the gateway MAC,
 *     unknown MACs, endpoints without a bound port): the kernel bridge (passed-to-kernel), whose own
 *     learning (only of frames admitted above) serves the gateway's replies.
 *
 * Policy (policy.h): before 3 and 4, VM ports: vxm_port_guard (no unicast IPv4 inside L2 broadcast,
 * client DHCP only: dhcp.h), then the sender's egress groups (VM ports) and, for every frame
 * delivered on this node (not into the tunnel), the receiver's ingress group; denied: dropped-policy.
 *
 * Malformed frames (Ethernet/ARP/IPv4 truncated, bad IHL) from a VM port are DROPPED
 * (dropped-malformed): anti-spoofing cannot be evaluated on them. From the (trusted) gateway leg they
 * are passed to the kernel bridge. Neither case ever reaches the tunnel.
 *
 * A port the agent has not programmed yet has no program: the kernel bridge would carry its frames.
 * The port gate (dataplane/kernel/antispoof.ts, table bridge vxmesh_antispoof, both modes) drops them
 * there: only bound ports of this node's VM NICs pass, with their own MAC/IP.
 *
 * Live migration. KubeVirt names the target node (status.migrationState.targetNode) while the memory is
 * copied, resumes the guest on the target, which announces itself (QEMU's RARP, the guest's gratuitous
 * ARP), and only then reports completion (status.nodeName = target). The agent learns nothing in between,
 * so the data plane notices where the guest speaks from, within bounds the agent set beforehand:
 *  - on the target, the guest's entry is REMOTE|ARRIVING (forwarding still goes to the source) with
 *    ifindex = the target's port bound to the guest's NIC (the new virt-launcher's, plugged before the
 *    switchover). A frame with its source MAC from exactly that port passes the usual IP/ARP checks and
 *    PROMOTES the entry to LOCAL|ARRIVING there: from then on it is a local endpoint like any other (fast
 *    path both ways). From any other port it is spoofing (dropped-spoof), so no VM of the target node
 *    can claim a migrating neighbour. An announce (gratuitous ARP) from an arriving guest is flooded to
 *    the peers instead of being kept local, so that the other nodes learn the move too;
 *  - on every other node (source included) the entry is MOVING with next_vtep = the target's VTEP:
 *    vxm_from_tunnel repoints it to the target on the first frame from exactly that VTEP carrying the
 *    guest's source MAC (which the target admitted as above). Only the announced target can move it, only
 *    for a VM the control plane said is migrating, and member VTEPs are trusted already.
 * The agent keeps what the programs changed while the migration is in progress (dataplane/bpf/endpoints.ts)
 * and writes plain LOCAL/REMOTE once KubeVirt reports completion (or REMOTE at the source if it failed).
 *
 * Races. A promotion is one bpf_map_update_elem(BPF_EXIST) of the whole value, so readers on other CPUs
 * see the old or the new entry, never a mix of both, and an entry the agent deleted (VM gone) is not
 * recreated. The agent writes an entry only when its desired value differs from what it read, and it
 * desires the promoted value once it has read it; the one write that can undo a promotion it had not read
 * yet is a transition KubeVirt reported meanwhile (completion: LOCAL on the same bound port, which
 * admits the guest as before; failure: REMOTE, which is then the truth). Conversely a promotion racing
 * such an agent write may survive it until the agent's next pass, which rewrites it.
 * verifier: the promotion writes from stack copies (key, value) and never uses the looked-up pointer
 * after the update; map updates do not invalidate packet pointers.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "include/vxm_abi.h"
#include "include/vxm_maps.h"
#include "include/parse.h"
#include "include/stats.h"
#include "include/arp.h"
#include "include/tunnel.h"
#include "include/policy.h"
#include "include/dhcp.h"
#include "include/encap.h"

/* What the anti-spoofing check found out about the sender. */
struct vxm_src {
	int arriving; /* a migration to this node is in progress for it (ARRIVING) */
	int promote;  /* its entry is still REMOTE|ARRIVING: make it LOCAL on this port once the frame is admitted */
};

/* The source MAC must be an endpoint whose bound port is exactly this one: LOCAL, or ARRIVING (header). */
static __always_inline int vxm_check_mac(__u32 vni, __u32 ifindex, struct vxm_pkt *p, struct vxm_src *src, struct vxm_why *w)
{
	struct vxm_endpoint_key key = { .vni = vni };
	struct vxm_endpoint *ep;

	vxm_mac_copy(key.mac, p->eth->h_source);
	ep = bpf_map_lookup_elem(&vxm_endpoints, &key);
	if (!ep) {
		w->miss = VXM_M_NO_ENDPOINT;
		return -VXM_E_SPOOF_MAC;
	}
	if (ep->ifindex == 0 || ep->ifindex != ifindex) {
		w->miss = VXM_M_OTHER_PORT;
		w->detail = ep->ifindex;
		return -VXM_E_SPOOF_MAC;
	}
	src->arriving = !!(ep->flags & VXM_EP_ARRIVING);
	if (ep->flags & VXM_EP_LOCAL)
		return 0;
	if (!src->arriving) {
		w->miss = VXM_M_NOT_LOCAL;
		return -VXM_E_SPOOF_MAC;
	}
	src->promote = 1;
	return 0;
}

/* The arriving guest spoke from its bound port on this node: it runs here now (header: live migration). */
static __always_inline void vxm_promote(__u32 vni, __u32 ifindex, const __u8 *mac)
{
	struct vxm_endpoint_key key = { .vni = vni };
	struct vxm_endpoint local = { .remote_vtep = 0, .ifindex = ifindex, .flags = VXM_EP_LOCAL | VXM_EP_ARRIVING };

	vxm_mac_copy(key.mac, mac);
	bpf_map_update_elem(&vxm_endpoints, &key, &local, BPF_EXIST);
}

/* An IPv4 address (network order) claimed by the frame's source MAC must belong to it. */
static __always_inline int vxm_check_ip(__u32 vni, __be32 ip, const __u8 *mac, struct vxm_why *w)
{
	struct vxm_arp_key key = { .vni = vni, .ip = ip };
	struct vxm_arp_entry *e;

	e = bpf_map_lookup_elem(&vxm_arp, &key);
	if (!e || !vxm_mac_eq(e->mac, mac)) {
		w->miss = e ? VXM_M_OTHER_MAC : VXM_M_NO_ARP;
		return -VXM_E_SPOOF_IP;
	}
	return 0;
}

/* 0.0.0.0 is a source only before a client has an address: a DHCP client message (UDP 68 -> 67). */
static __always_inline int vxm_check_unspecified(struct vxm_pkt *p, struct iphdr *ip, struct vxm_why *w)
{
	struct udphdr *udp = vxm_parse_udp(p, ip);

	if (udp && udp->source == bpf_htons(68) && udp->dest == bpf_htons(67))
		return 0;
	w->miss = VXM_M_UNSPECIFIED;
	return -VXM_E_SPOOF_IP;
}

static __always_inline int vxm_check_source(__u32 vni, __u32 ifindex, struct vxm_pkt *p, struct vxm_src *src, struct vxm_why *w)
{
	int rc = vxm_check_mac(vni, ifindex, p, src, w);

	if (rc < 0)
		return rc;
	if (p->proto == ETH_P_IP) {
		struct iphdr *ip = vxm_parse_ipv4(p);

		if (!ip)
			return -VXM_E_MALFORMED;
		if (ip->saddr == 0)
			return vxm_check_unspecified(p, ip, w);
		return vxm_check_ip(vni, ip->saddr, p->eth->h_source, w);
	}
	if (p->proto == ETH_P_ARP) {
		struct vxm_arphdr *arp = vxm_parse_arp(p);
		__be32 spa;

		if (!arp)
			return -VXM_E_MALFORMED;
		if (!vxm_mac_eq(arp->sha, p->eth->h_source)) {
			w->miss = VXM_M_ARP_SHA;
			return -VXM_E_SPOOF_MAC;
		}
		__builtin_memcpy(&spa, arp->spa, 4);
		if (spa == 0) { /* an ARP probe (RFC 5227): a request only */
			if (arp->op == bpf_htons(VXM_ARP_REQUEST))
				return 0;
			w->miss = VXM_M_UNSPECIFIED;
			return -VXM_E_SPOOF_IP;
		}
		return vxm_check_ip(vni, spa, p->eth->h_source, w);
	}
	return 0;
}

/* Frame hygiene of a VM port (header, 0): untagged IPv4/ARP/other, never VLAN or IPv6. */
static __always_inline int vxm_check_hygiene(struct __sk_buff *skb, struct vxm_pkt *p, struct vxm_why *w)
{
	if (skb->vlan_present) {
		w->miss = VXM_M_VLAN_STRIPPED;
		return -VXM_E_VLAN;
	}
	if (p->proto == ETH_P_IPV6)
		return -VXM_E_IPV6;
	return 0;
}

/* Unicast and multicast forwarding. */
static __always_inline int vxm_forward(struct __sk_buff *skb, __u32 vni, __u32 flags, struct vxm_pkt *p, struct vxm_why *w)
{
	struct vxm_endpoint_key key = { .vni = vni };
	struct vxm_endpoint *ep;
	__u32 len = skb->len;
	__u32 vxe;
	int rc;

	/* policy bypasses (policy.h): unicast IPv4 inside L2 broadcast, DHCP other than a client's */
	if ((flags & VXM_PORT_VM) && (rc = vxm_port_guard(vni, p)) < 0) {
		vxm_drop(skb, w, VXM_V_DROP_POLICY, rc, len);
		return TC_ACT_SHOT;
	}
	if (vxm_mac_is_multicast(p->eth->h_dest)) {
		if ((rc = vxm_policy(skb, vni, p, flags & VXM_PORT_VM, 0, w)) < 0) {
			vxm_drop(skb, w, VXM_V_DROP_POLICY, rc, len);
			return TC_ACT_SHOT;
		}
		/* the gateway is distributed (same IP/MAC on every node): its broadcasts stay local;
		 * so does DHCP: the node the VM runs on answers it (dhcp.h) */
		if ((flags & VXM_PORT_VM) && !vxm_is_dhcp(p)) {
			vxe = vxm_vxe_ifindex();
			rc = vxm_replicate(skb, vni, vxe);
			if (rc > 0)
				vxm_count(skb, w, VXM_V_FLOODED, len);
			else if (rc < 0) /* over the budget: not replicated, still delivered on this node */
				vxm_drop(skb, w, VXM_V_DROP_BCAST_RATE, rc, len);
		}
		vxm_count(skb, w, VXM_V_PASS_KERNEL, len);
		return TC_ACT_OK;
	}

	vxm_mac_copy(key.mac, p->eth->h_dest);
	ep = bpf_map_lookup_elem(&vxm_endpoints, &key);
	/* the sender's egress policy always; the receiver's ingress policy unless it is checked where it
	 * runs (frames into the tunnel) */
	rc = vxm_policy(skb, vni, p, flags & VXM_PORT_VM, !(ep && (ep->flags & VXM_EP_REMOTE) && ep->remote_vtep), w);
	if (rc < 0) {
		vxm_drop(skb, w, VXM_V_DROP_POLICY, rc, len);
		return TC_ACT_SHOT;
	}
	if (ep && (ep->flags & VXM_EP_REMOTE) && ep->remote_vtep) {
		__u32 remote = ep->remote_vtep;
		int out = vxm_encap_native(skb, vni, remote);

		w->outer_dst = remote;
		if (out > 0) {
			w->l2_off = VXM_ENCAP_ROOM; /* encapsulated in place: the frame is inside now */
			vxm_count(skb, w, VXM_V_FWD_TUNNEL, len);
			vxm_count(skb, w, VXM_V_ENCAP_NATIVE, len);
			return bpf_redirect(out, 0);
		}
		if (out == -VXM_E_ENCAP_BROKEN) {
			vxm_drop(skb, w, VXM_V_DROP_MALFORMED, out, len);
			return TC_ACT_SHOT;
		}
		vxe = vxm_vxe_ifindex();
		if (vxe && vxm_set_tunnel(skb, vni, remote) == 0) {
			vxm_count(skb, w, VXM_V_FWD_TUNNEL, len);
			vxm_count(skb, w, VXM_V_ENCAP_FALLBACK, len);
			return bpf_redirect(vxe, 0);
		}
	} else if (ep && (ep->flags & VXM_EP_LOCAL) && ep->ifindex && ep->ifindex != skb->ifindex) {
		vxm_count(skb, w, VXM_V_FWD_LOCAL, len);
		return bpf_redirect_peer(ep->ifindex, 0);
	}
	vxm_count(skb, w, VXM_V_PASS_KERNEL, len);
	return TC_ACT_OK;
}

/* The verdict a rejected VM frame is counted under. */
static __always_inline __u32 vxm_drop_verdict(int rc)
{
	switch (rc) {
	case -VXM_E_MALFORMED:
	case -VXM_E_VLAN:
		return VXM_V_DROP_MALFORMED;
	case -VXM_E_IPV6:
		return VXM_V_DROP_IPV6;
	case -VXM_E_UNBOUND:
		return VXM_V_DROP_UNBOUND;
	default:
		return VXM_V_DROP_SPOOF;
	}
}

/* Steps 0 and 1 of the header for a VM (or unbound) port: 0 when the frame may go on, else -VXM_E_*. */
static __always_inline int vxm_admit(struct __sk_buff *skb, __u32 vni, __u32 flags, int parsed, struct vxm_pkt *p, struct vxm_src *src, struct vxm_why *w)
{
	int rc;

	if (flags & VXM_PORT_UNBOUND)
		return -VXM_E_UNBOUND;
	if (parsed < 0)
		return parsed;
	rc = vxm_check_hygiene(skb, p, w);
	if (rc < 0)
		return rc;
	return vxm_check_source(vni, skb->ifindex, p, src, w);
}

SEC("tc")
int vxm_from_vm(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	struct vxm_port *port = bpf_map_lookup_elem(&vxm_ports, &ifindex);
	struct vxm_why w = { .hook = VXM_HOOK_FROM_VM };
	struct vxm_src src = {};
	struct vxm_pkt p;
	__u32 vni, flags;
	int rc;

	if (!port)
		return TC_ACT_OK; /* not a port we manage */
	vni = port->vni;
	flags = port->flags;
	w.vni = vni;

	rc = vxm_parse_eth(skb, &p);
	if (flags & (VXM_PORT_VM | VXM_PORT_UNBOUND)) {
		rc = vxm_admit(skb, vni, flags, rc, &p, &src, &w);
		if (rc < 0) {
			vxm_drop(skb, &w, vxm_drop_verdict(rc), rc, skb->len);
			return TC_ACT_SHOT;
		}
		if (src.promote)
			vxm_promote(vni, ifindex, p.eth->h_source);
	} else if (rc < 0) {
		vxm_count(skb, &w, VXM_V_PASS_KERNEL, skb->len);
		return TC_ACT_OK;
	}

	if (p.proto == ETH_P_ARP) {
		rc = vxm_arp_respond(vni, &p);
		if (rc == VXM_ARP_ANSWERED) {
			vxm_count(skb, &w, VXM_V_ARP_ANSWERED, skb->len);
			return bpf_redirect(ifindex, 0);
		}
		/* an announce stays on the node, unless a guest that just migrated here makes it (header) */
		if (rc == VXM_ARP_SELF && !src.arriving) {
			vxm_count(skb, &w, VXM_V_PASS_KERNEL, skb->len);
			return TC_ACT_OK;
		}
	}
	return vxm_forward(skb, vni, flags, &p, &w);
}

char LICENSE[] SEC("license") = "GPL";
