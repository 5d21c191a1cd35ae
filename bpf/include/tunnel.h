/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tunnel.h: encapsulation through the collect-metadata vxlan device (vxe0): set the tunnel key
 * (VNI, remote VTEP in host order, TTL 64) and redirect or clone to vxe0's egress.
 */
#ifndef VXM_TUNNEL_H
#define VXM_TUNNEL_H

#include <linux/pkt_cls.h>
#include "vxm_maps.h"
#include "stats.h"

#define VXM_BCAST_INTERVAL_NS (1000000000ULL / VXM_BCAST_RATE_PPS)

/* The VNI's replication budget (vxm_bcast, GCRA): 1 when one more frame may be replicated now, else 0.
 * Racing CPUs may both pass on the same tat: the budget is approximate by at most one frame per CPU. */
static __always_inline int vxm_bcast_allow(__u32 vni)
{
	__u64 now = bpf_ktime_get_ns();
	struct vxm_bcast *b = bpf_map_lookup_elem(&vxm_bcast, &vni);
	struct vxm_bcast fresh = { .tat = now + VXM_BCAST_INTERVAL_NS };
	__u64 tat;

	if (!b) {
		bpf_map_update_elem(&vxm_bcast, &vni, &fresh, BPF_ANY);
		return 1;
	}
	tat = b->tat > now ? b->tat : now;
	if (tat - now > VXM_BCAST_BURST * VXM_BCAST_INTERVAL_NS)
		return 0;
	b->tat = tat + VXM_BCAST_INTERVAL_NS;
	return 1;
}

static __always_inline __u32 vxm_vxe_ifindex(void)
{
	__u32 zero = 0;
	struct vxm_config *cfg = bpf_map_lookup_elem(&vxm_config, &zero);

	return cfg ? cfg->vxe_ifindex : 0;
}

static __always_inline int vxm_set_tunnel(struct __sk_buff *skb, __u32 vni, __u32 remote_vtep)
{
	struct bpf_tunnel_key key = {};

	key.tunnel_id = vni;
	key.remote_ipv4 = remote_vtep; /* host order, as the helper wants */
	key.tunnel_ttl = 64;
	if (bpf_skb_set_tunnel_key(skb, &key, sizeof(key), 0) < 0)
		return -VXM_E_TUNNEL_KEY;
	return 0;
}

/* Head-end replication: one clone per peer VTEP holding the VNI (the agent lists only those), within the
 * VNI's budget (over it: no copy, -VXM_E_BCAST_RATE, counted dropped-broadcast-rate by the caller).
 * Returns the number of copies sent.
 * A global (non-inlined) function so the verifier checks the loop once, not once per caller path.
 * verifier: bpf_clone_redirect invalidates packet pointers; nothing here reads the packet. */
__noinline int vxm_replicate(struct __sk_buff *skb, __u32 vni, __u32 vxe)
{
	struct vxm_flood *fl = bpf_map_lookup_elem(&vxm_flood, &vni);
	int sent = 0;

	if (!fl || !vxe || fl->count == 0)
		return 0;
	if (!vxm_bcast_allow(vni))
		return -VXM_E_BCAST_RATE; /* the caller counts it: its event record stays on its own stack */
#pragma clang loop unroll(disable)
	for (int i = 0; i < VXM_MAX_PEERS; i++) {
		if (i >= fl->count)
			break;
		if (vxm_set_tunnel(skb, vni, fl->ips[i]) < 0)
			continue;
		if (bpf_clone_redirect(skb, vxe, 0) == 0)
			sent++;
	}
	return sent;
}

#endif /* VXM_TUNNEL_H */
