/**
 * ct-shares.ts: the flow table's per-network shares (vxm_maps.h vxm_ct). The outer map vxm_ct holds, per
 * VNI with a policy on this node, one LRU map of VXM_CT_SHARE flows that the agent creates here (a
 * map-in-map's inner maps cannot come from the object); programs look the share up by VNI, so a tenant that
 * opens flows without end evicts its own oldest flows and never another tenant's. A network without a
 * share (not created yet) records nothing and matches no reply: fail closed. Shares of networks that lost
 * their policies are removed (the outer entry holds the only reference, so the kernel frees the map).
 * Memory: an LRU map is preallocated, about 80 bytes per entry: 1.3 MiB per network with a policy.
 */
import type { NodeIntent } from '../../intent/types.js';
import { BpfError } from '../../errors.js';
import { VXM_CT_SHARE, sizeOf, u32 } from './abi.js';
import { dumpMap } from './batch.js';
import * as bpf from './libbpf.js';

/** The VNIs that need a share: networks of the intent with a compiled policy. Pure. */
export function shareVnis(intent: NodeIntent): number[] {
  return intent.clusterNetworks.flatMap((cn) => cn.networks).filter((n) => n.policy).map((n) => n.vni).sort((a, b) => a - b);
}

/** Which shares to create and remove. Pure. */
export function planShares(present: number[], wanted: number[]): { create: number[]; remove: number[] } {
  const have = new Set(present);
  const want = new Set(wanted);
  return { create: wanted.filter((v) => !have.has(v)), remove: present.filter((v) => !want.has(v)) };
}

const presentVnis = (outerFd: number) => bpf.mapKeys(outerFd, 4).map((k) => k.readUInt32LE(0));

/** Creates and removes shares; a network whose share cannot be created is reported, the others go on. */
export function reconcileShares(outerFd: number, intent: NodeIntent): { changes: number; errors: Array<{ vni: number; message: string }> } {
  const plan = planShares(presentVnis(outerFd), shareVnis(intent));
  const errors: Array<{ vni: number; message: string }> = [];
  for (const vni of plan.create) {
    let fd = -1;
    try {
      fd = bpf.mapCreate(bpf.BPF_MAP_TYPE_LRU_HASH, `vxm_ct_${vni}`.slice(0, 15), sizeOf('vxm_ct_key'), sizeOf('vxm_ct_entry'), VXM_CT_SHARE);
      bpf.mapUpdate(outerFd, u32(vni), u32(fd));
    } catch (err) {
      errors.push({ vni, message: `flow-table share: ${(err as Error).message}` });
    } finally {
      bpf.closeFd(fd);
    }
  }
  for (const vni of plan.remove) bpf.mapDelete(outerFd, u32(vni));
  return { changes: plan.create.length - errors.length + plan.remove.length, errors };
}

export interface ShareUse { vni: number; flows: number; size: number; full: boolean }

/** Entries per share (inspect, metrics): a full share is evicting that network's oldest flows. */
export function shareUse(outerFd: number): ShareUse[] {
  const out: ShareUse[] = [];
  for (const vni of presentVnis(outerFd)) {
    const id = bpf.mapLookup(outerFd, u32(vni), 4);
    if (!id) continue;
    let fd = -1;
    try {
      fd = bpf.mapFdById(id.readUInt32LE(0));
      const flows = dumpMap(fd, sizeOf('vxm_ct_key'), sizeOf('vxm_ct_entry')).count;
      out.push({ vni, flows, size: VXM_CT_SHARE, full: flows >= VXM_CT_SHARE });
    } catch (err) {
      if (!(err instanceof BpfError)) throw err;
    } finally {
      bpf.closeFd(fd);
    }
  }
  return out.sort((a, b) => a.vni - b.vni);
}

export function shareUseText(rows: ShareUse[]): string[] {
  if (rows.length === 0) return [];
  return ['flow-table shares (flows / size per network):', ...rows.map((r) => `  vni ${r.vni}: ${r.flows} / ${r.size}${r.full ? ' FULL: its oldest flows are evicted' : ''}`)];
}
