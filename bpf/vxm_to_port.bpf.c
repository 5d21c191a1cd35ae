/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vxm_to_port: TC EGRESS of every port in vxm_ports (VM ports and the gateway leg vxg<vni>), i.e.
 * frames the bridge vxb<vni> forwards to a VM or to the node's router. Policy only (issue 8): the port
 * guard (policy.h) always, the groups when some policy applies on the node (vxm_config flag).
 * Maps: vxm_ports, vxm_config, policy maps (read); vxm_ct, vxm_pol_stats, vxm_stats (write).
 *
 * Frames that entered through a port or device our ingress programs run on (a port in vxm_ports, vxe0)
 * were already decided there and pass untouched. What remains entered the bridge through a port the
 * agent has not programmed yet: typically a VM's port that just appeared on this node (a migration's
 * target, a new VM) before the next reconcile attaches vxm_from_vm to it. Its frames are checked here
 * like a VM port's (vxm_port_guard) and against the sender's egress group and the receiver's ingress
 * group (policy.h), so a selected VM is
 * never open, in either direction, while its port is unknown to the agent.
 * Frames redirected straight into a VM (bpf_redirect_peer) never pass here; they were checked by the
 * program that redirected them.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "include/vxm_abi.h"
#include "include/vxm_maps.h"
#include "include/parse.h"
#include "include/stats.h"
#include "include/tunnel.h"
#include "include/policy.h"

SEC("tc")
int vxm_to_port(struct __sk_buff *skb)
{
	__u32 ifindex = skb->ifindex;
	__u32 in = skb->ingress_ifindex;
	struct vxm_port *port = bpf_map_lookup_elem(&vxm_ports, &ifindex);
	struct vxm_why w = { .hook = VXM_HOOK_TO_PORT };
	struct vxm_pkt p;
	__u32 vni;
	int rc, denied = 0;

	if (!port)
		return TC_ACT_OK;
	vni = port->vni;
	w.vni = vni;
	if (in && (bpf_map_lookup_elem(&vxm_ports, &in) || in == vxm_vxe_ifindex()))
		return TC_ACT_OK; /* decided at ingress */
	rc = vxm_parse_eth(skb, &p);
	if (rc < 0 && rc != -VXM_E_VLAN)
		return TC_ACT_OK;
	if (rc == 0)
		denied = vxm_port_guard(vni, &p);
	if (denied == 0)
		denied = vxm_policy(skb, vni, &p, 1, 1, &w);
	if (denied < 0) {
		vxm_drop(skb, &w, VXM_V_DROP_POLICY, denied, skb->len);
		return TC_ACT_SHOT;
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
