/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vxm_from_tunnel: TC ingress of the collect-metadata vxlan device vxe0, i.e. frames from other nodes
 * the kernel decapsulated: all that vxm_from_uplink (native decapsulation) does not take. Maps: vxm_networks, vxm_vteps, vxm_endpoints, policy maps (read); vxm_stats,
 * vxm_ct, vxm_pol_stats, vxm_endpoints (write: a migrated VM's move, 1a).
 *
 *  1. The outer source must be a member VTEP of the VNI's cluster network (vxm_vteps); unknown VNIs
 *     and non-member VTEPs are dropped (dropped-unknown-vtep): a non-member VTEP is counted under the
 *     frame's VNI, an unknown VNI under VNI 0, so the underlay cannot fill vxm_stats with random VNIs.
 *  1a. Live migration (vxm_from_vm.bpf.c explains it): on a VNI flagged MOVING, a frame whose source MAC
 *     is a MOVING endpoint and whose outer source is that endpoint's next_vtep (the migration target)
 *     repoints the endpoint there: the guest resumed on the target and speaks from it.
 *  1b. Policy (policy.h): DHCP (UDP to 67/68) and unicast IPv4 inside L2 broadcast are dropped (a VM's
 *     DHCP is answered on its own node; the sender's node drops the latter already); then the receiver's ingress group, for unicast to a selected endpoint of the
 *     network wherever the intent says it runs (a VM migrating here is guarded at once); dropped-policy.
 *  2. Unicast to a local endpoint on a known port: bpf_redirect_peer into the VM (forwarded-local).
 *  3. Everything else (broadcast, multicast, the gateway MAC, unknown MACs, endpoints without a bound port,
 *     VLAN-tagged frames): egress of the VNI's bridge, which forwards/floods to its ports
 *     (passed-to-kernel). A frame shorter than Ethernet is dropped (dropped-malformed).
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

/* Returns the VNI's network when the tunnel source is one of its cluster network's VTEPs. */
static __always_inline int vxm_check_vtep(struct bpf_tunnel_key *key, struct vxm_network **out)
{
	__u32 vni = key->tunnel_id;
	struct vxm_network *net = bpf_map_lookup_elem(&vxm_networks, &vni);

	if (!net)
		return -VXM_E_UNKNOWN_VNI;
	if (!vxm_vtep_member(net, key->remote_ipv4))
		return -VXM_E_UNKNOWN_VTEP;
	*out = net;
	return 0;
}

SEC("tc")
int vxm_from_tunnel(struct __sk_buff *skb)
{
	struct bpf_tunnel_key key = {};
	struct vxm_network *net = NULL;
	struct vxm_endpoint_key ek = {};
	struct vxm_endpoint *ep;
	struct vxm_why w = { .hook = VXM_HOOK_FROM_TUNNEL };
	struct vxm_pkt p;
	__u32 bridge;
	int rc;

	if (bpf_skb_get_tunnel_key(skb, &key, sizeof(key), 0) < 0) {
		vxm_drop(skb, &w, VXM_V_DROP_UNKNOWN_VTEP, -VXM_E_TUNNEL_KEY, skb->len);
		return TC_ACT_SHOT;
	}
	w.outer_src = key.remote_ipv4;
	w.outer_dst = key.local_ipv4;
	rc = vxm_check_vtep(&key, &net);
	if (rc < 0 || !net) {
		/* an unknown VNI under VNI 0 (header), the frame's VNI on the record */
		w.vni = rc == -VXM_E_UNKNOWN_VTEP ? key.tunnel_id : 0;
		w.detail = key.tunnel_id;
		vxm_drop(skb, &w, VXM_V_DROP_UNKNOWN_VTEP, rc < 0 ? rc : -VXM_E_UNKNOWN_VNI, skb->len);
		return TC_ACT_SHOT;
	}
	w.vni = key.tunnel_id;
	bridge = net->bridge_ifindex;

	rc = vxm_parse_eth(skb, &p);
	if (rc == -VXM_E_MALFORMED) {
		vxm_drop(skb, &w, VXM_V_DROP_MALFORMED, rc, skb->len);
		return TC_ACT_SHOT;
	}
	if (rc == 0)
		vxm_learn_move(net, key.tunnel_id, key.remote_ipv4, p.eth->h_source);
	/* DHCP stays on the node its VM runs on (dhcp.h); unicast IPv4 inside L2 broadcast would skip the
	 * receiver's ingress group (policy.h) */
	if (rc == 0 && vxm_is_dhcp(&p)) {
		vxm_drop(skb, &w, VXM_V_DROP_POLICY, -VXM_E_DHCP, skb->len);
		return TC_ACT_SHOT;
	}
	if (rc == 0 && vxm_bcast_unicast(&p, net)) {
		vxm_drop(skb, &w, VXM_V_DROP_POLICY, -VXM_E_BCAST_UNICAST, skb->len);
		return TC_ACT_SHOT;
	}
	/* the receiver's ingress policy, whichever way the frame reaches it (redirect or bridge) */
	if (rc == 0 || rc == -VXM_E_VLAN) {
		int denied = vxm_policy(skb, key.tunnel_id, &p, 0, 1, &w);

		if (denied < 0) {
			vxm_drop(skb, &w, VXM_V_DROP_POLICY, denied, skb->len);
			return TC_ACT_SHOT;
		}
	}
	if (rc == 0 && !vxm_mac_is_multicast(p.eth->h_dest)) {
		ek.vni = key.tunnel_id;
		vxm_mac_copy(ek.mac, p.eth->h_dest);
		ep = bpf_map_lookup_elem(&vxm_endpoints, &ek);
		if (ep && (ep->flags & VXM_EP_LOCAL) && ep->ifindex) {
			vxm_count(skb, &w, VXM_V_FWD_LOCAL, skb->len);
			return bpf_redirect_peer(ep->ifindex, 0);
		}
	}
	vxm_count(skb, &w, VXM_V_PASS_KERNEL, skb->len);
	if (!bridge)
		return TC_ACT_OK;
	return bpf_redirect(bridge, 0);
}

char LICENSE[] SEC("license") = "GPL";
