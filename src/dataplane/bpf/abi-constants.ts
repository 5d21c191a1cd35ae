/**
 * Plain constants of bpf/include/vxm_abi.h that kernel mode shares (no koffi import): the per-VNI
 * replication budget. abi.ts re-exports them; test/unit/bpf-abi.test.ts checks them against the header.
 */
/** Broadcast/multicast frames per second a VNI may replicate to its peers (VXM_BCAST_RATE_PPS). */
export const BCAST_RATE_PPS = 1000;
/** Frames a VNI may replicate at once above that rate (VXM_BCAST_BURST). */
export const BCAST_BURST = 200;
