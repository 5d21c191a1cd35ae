/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stats.h: the one counter helper, and the events it sends. vxm_count bumps vxm_stats[{vni, verdict}] on
 * this CPU and, for a drop verdict, sends an event to vxm_events saying why (vxm_emit); for a forwarding
 * verdict only while `vxmesh monitor --all` has set VXM_EV_TRACE in vxm_ev_config. Because counting and
 * reporting are one call, no drop can be counted without its event being attempted: a frame either has
 * an event or is counted lost (vxm_ev_cpu), never neither.
 *
 * Every program keeps a struct vxm_why on its stack: the hook and VNI from the start, and whatever the
 * failing check found out (reason, which lookup missed, the policy group) filled in where it failed.
 * Cost on the forwarding path with tracing off: one array lookup (inlined by the verifier) and a flag test;
 * the sub-verdicts (encap-*, decap-*: "of forwarded-*") never look at the flag.
 */
#ifndef VXM_STATS_H
#define VXM_STATS_H

#include "vxm_maps.h"
#include "parse.h"

#define VXM_EV_INTERVAL_NS (1000000000ULL / VXM_EV_RATE)

/* Why a frame got its verdict, as far as the program knows (header). Stack only, never in a map; packed
 * small: it shares the 512-byte stack with vxm_from_vm's own and vxm_emit's frames. */
struct vxm_why {
	__u8 hook;       /* enum vxm_hook */
	__u8 reason;     /* enum vxm_err */
	__u8 miss;       /* enum vxm_miss */
	__u8 direction;
	__u32 l2_off;    /* where the (inner) Ethernet header starts: 0, or the outer headers' size on the uplink */
	__u32 vni;       /* counted under (vxm_stats key) */
	__u32 detail;
	__u32 group;
	__u32 outer_src; /* host order */
	__u32 outer_dst; /* host order */
};

static __always_inline void vxm_stat_add(__u32 vni, __u32 verdict, __u32 bytes)
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

static __always_inline int vxm_verdict_is_drop(__u32 verdict)
{
	switch (verdict) {
	case VXM_V_DROP_UNKNOWN_VTEP:
	case VXM_V_DROP_SPOOF:
	case VXM_V_DROP_MALFORMED:
	case VXM_V_DROP_POLICY:
	case VXM_V_DROP_BCAST_RATE:
	case VXM_V_DROP_UNBOUND:
	case VXM_V_DROP_IPV6:
		return 1;
	default:
		return 0;
	}
}

/* The sub-verdicts say which path a forwarded frame took; its event is the main verdict's. */
static __always_inline int vxm_verdict_is_sub(__u32 verdict)
{
	return verdict >= VXM_V_ENCAP_NATIVE && verdict <= VXM_V_DECAP_FALLBACK;
}

static __always_inline int vxm_trace_on(void)
{
	__u32 zero = 0;
	struct vxm_ev_config *c = bpf_map_lookup_elem(&vxm_ev_config, &zero);

	return c && (c->flags & VXM_EV_TRACE);
}

/* The frame's inner headers into `e`, as far as they are there (vxm_abi.h, struct vxm_event), loaded
 * straight into the record: bpf_skb_load_bytes, not packet pointers, so any offset works without bounds
 * proofs, callers may have resized the skb, and the stack (shared with the caller's) stays small. */
static __always_inline void vxm_event_headers(struct __sk_buff *skb, __u32 off, struct vxm_event *e)
{
	struct iphdr ip;

	if (off > 64 || bpf_skb_load_bytes(skb, off, e->dst_mac, 14) < 0)
		return;
	off += 14;
	if (e->ethertype == bpf_htons(ETH_P_ARP)) {
		/* sender IP at 14, target IP at 24, op at 6 of the Ethernet/IPv4 ARP header */
		if (bpf_skb_load_bytes(skb, off + 14, &e->saddr, 4) < 0 || bpf_skb_load_bytes(skb, off + 24, &e->daddr, 4) < 0)
			return;
		bpf_skb_load_bytes(skb, off + 6, &e->sport, 2);
		return;
	}
	if (e->ethertype != bpf_htons(ETH_P_IP) || bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)) < 0)
		return;
	e->saddr = ip.saddr;
	e->daddr = ip.daddr;
	e->l4_proto = ip.protocol;
	if (ip.frag_off & bpf_htons(0x1fff))
		return; /* a later fragment: no L4 header */
	if (ip.protocol == IPPROTO_TCP || ip.protocol == IPPROTO_UDP || ip.protocol == IPPROTO_SCTP || ip.protocol == IPPROTO_ICMP)
		bpf_skb_load_bytes(skb, off + ip.ihl * 4, &e->sport, 4);
}

/*
 * One event for this frame, within this CPU's budget (vxm_ev_cpu: GCRA, VXM_EV_RATE a second with
 * VXM_EV_BURST ahead); over it, or with the ring full, counted lost instead. Returns 1 when sent.
 * A global (non-inlined) function: verified once, not at each of the programs' many counting sites.
 * Per-CPU state needs no atomics: a TC program runs to its end on its CPU.
 */
__noinline int vxm_emit(struct __sk_buff *skb, struct vxm_why *w, __u32 verdict)
{
	__u32 zero = 0;
	struct vxm_ev_cpu *c = bpf_map_lookup_elem(&vxm_ev_cpu, &zero);
	struct vxm_event *e;
	__u64 now, tat;

	if (!skb || !w || !c)
		return 0;
	now = bpf_ktime_get_ns();
	tat = c->tat > now ? c->tat : now;
	if (tat - now > VXM_EV_BURST * VXM_EV_INTERVAL_NS) {
		c->lost_rate += 1;
		return 0;
	}
	c->tat = tat + VXM_EV_INTERVAL_NS;
	e = bpf_ringbuf_reserve(&vxm_events, sizeof(*e), 0);
	if (!e) {
		c->lost_ring += 1;
		return 0;
	}
	__builtin_memset(e, 0, sizeof(*e)); /* reserved memory is not zeroed; headers the frame lacks stay 0 */
	e->time_ns = now;
	e->hook = w->hook;
	e->ifindex = skb->ifindex;
	e->vni = w->vni;
	e->verdict = verdict;
	e->reason = w->reason;
	e->miss = w->miss;
	e->detail = w->detail;
	e->group = w->group;
	e->direction = w->direction;
	e->outer_src = w->outer_src;
	e->outer_dst = w->outer_dst;
	e->len = skb->len;
	vxm_event_headers(skb, w->l2_off, e);
	bpf_ringbuf_submit(e, 0);
	c->sent += 1;
	return 1;
}

/* Counts the frame under {w->vni, verdict}; drops always, forwarding verdicts while tracing: an event. */
static __always_inline void vxm_count(struct __sk_buff *skb, struct vxm_why *w, __u32 verdict, __u32 bytes)
{
	vxm_stat_add(w->vni, verdict, bytes);
	if (vxm_verdict_is_drop(verdict) || (!vxm_verdict_is_sub(verdict) && vxm_trace_on()))
		vxm_emit(skb, w, verdict);
}

/* A drop for `rc` (-VXM_E_*): the reason on the record, then counted as vxm_count. */
static __always_inline void vxm_drop(struct __sk_buff *skb, struct vxm_why *w, __u32 verdict, int rc, __u32 bytes)
{
	w->reason = -rc;
	vxm_count(skb, w, verdict, bytes);
}

#endif /* VXM_STATS_H */
