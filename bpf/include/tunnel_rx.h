/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel_rx.h: what both receivers of tunnelled frames decide the same way: vxm_from_tunnel (vxe0, the
 * kernel's decapsulation) and vxm_from_uplink (native decapsulation on the uplink).
 */
#ifndef VXM_TUNNEL_RX_H
#define VXM_TUNNEL_RX_H

#include "vxm_abi.h"
#include "vxm_maps.h"
#include "parse.h"

/* 1 when `vtep` (host order) is a member VTEP of the network's cluster network, else 0. */
static __always_inline int vxm_vtep_member(const struct vxm_network *net, __u32 vtep)
{
	struct vxm_vtep_key vk = { .cluster_id = net->cluster_id, .ip = vtep };

	return bpf_map_lookup_elem(&vxm_vteps, &vk) != NULL;
}

/* Live migration (vxm_from_vm.bpf.c explains it): the MOVING endpoint `mac` spoke from `vtep`, its
 * migration target: it runs there now. One whole-value update (BPF_EXIST: never recreates an entry the
 * agent deleted); races as in vxm_from_vm's header. */
static __always_inline void vxm_learn_move(const struct vxm_network *net, __u32 vni, __u32 vtep, const __u8 *mac)
{
	struct vxm_endpoint_key key = { .vni = vni };
	struct vxm_endpoint moved = { .remote_vtep = vtep, .ifindex = 0, .flags = VXM_EP_REMOTE | VXM_EP_MOVING, .next_vtep = vtep };
	struct vxm_endpoint *ep;

	if (!(net->flags & VXM_NET_MOVING) || vxm_mac_is_multicast(mac))
		return;
	vxm_mac_copy(key.mac, mac);
	ep = bpf_map_lookup_elem(&vxm_endpoints, &key);
	if (!ep || !(ep->flags & VXM_EP_MOVING) || ep->next_vtep != vtep || ep->remote_vtep == vtep)
		return;
	bpf_map_update_elem(&vxm_endpoints, &key, &moved, BPF_EXIST);
}

#endif /* VXM_TUNNEL_RX_H */
