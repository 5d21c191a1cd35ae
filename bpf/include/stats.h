/* SPDX-License-Identifier: Apache-2.0 */
/* stats.h: the one counter helper. Bumps vxm_stats[{vni, verdict}] on this CPU. */
#ifndef VXM_STATS_H
#define VXM_STATS_H

#include "vxm_maps.h"

static __always_inline void vxm_count(__u32 vni, __u32 verdict, __u32 bytes)
{
	struct vxm_stat_key key = { .vni = vni, .verdict = verdict };
	struct vxm_stat *s = bpf_map_lookup_elem(&vxm_stats, &key);

	if (!s) {
		struct vxm_stat init = { .packets = 1, .bytes = bytes };

		/* first hit on this key: another CPU may race us; then count on the entry it created */
		if (bpf_map_update_elem(&vxm_stats, &key, &init, BPF_NOEXIST) == 0)
			return;
		s = bpf_map_lookup_elem(&vxm_stats, &key);
		if (!s)
			return;
	}
	s->packets += 1;
	s->bytes += bytes;
}

#endif /* VXM_STATS_H */
