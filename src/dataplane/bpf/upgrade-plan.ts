/**
 * upgrade-plan.ts: what a new build does with each pinned map (pure). The loader (loader.ts) reads the
 * pinned maps' info (bpf_obj_get_info_by_fd) and what the new objects declare, and this decides per map:
 * - reuse: same type, key/value size, max entries and flags: the new programs share the pinned map, so
 *   every entry (flows, learned migration flags, counters) stays where it is;
 * - migrate: a new map is created beside the old one and the state worth keeping is carried across by a
 *   converter: `copy` (entries byte-compatible: only max entries or flags changed), `ct-shares` (the flow
 *   table as one LRU of {vni, …} flows -> the per-network shares of the hash of maps, ct-shares.ts);
 * - recreate: a new map, filled from the intent only (nothing in it is worth converting, or no converter
 *   knows the old layout: a counter map is reset);
 * - create: not pinned yet; drop: pinned but no longer declared (unpinned once the new programs run).
 * Every differing field is named with its old and new value (cilium/ebpf's map compatibility style).
 */
export interface MapInfo {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}

export type Converter = 'copy' | 'ct-shares';

export type MapStep =
  | { map: string; action: 'reuse' }
  | { map: string; action: 'migrate'; converter: Converter; differences: string[] }
  | { map: string; action: 'recreate'; differences: string[]; why: string }
  | { map: string; action: 'create' }
  | { map: string; action: 'drop' };

/** Kernel map type numbers (uapi bpf.h) by name, for messages. */
const TYPE_NAMES: Record<number, string> = {
  1: 'Hash', 2: 'Array', 5: 'PerCPUHash', 6: 'PerCPUArray', 9: 'LRUHash', 10: 'LRUCPUHash', 11: 'LPMTrie',
  12: 'ArrayOfMaps', 13: 'HashOfMaps', 25: 'DevMapHash', 27: 'RingBuf',
};
export const typeName = (t: number): string => `${TYPE_NAMES[t] ?? 'type'}(${t})`;
const HASH = 1;
const LRU_HASH = 9;
const HASH_OF_MAPS = 13;
const RINGBUF = 27;
const PERCPU = new Set([5, 6, 10]);

/** The fields that differ, each as `<field> <old> -> <new>`; empty when the pinned map can be reused. Pure. */
export function mapDifferences(pinned: MapInfo, declared: MapInfo): string[] {
  const out: string[] = [];
  if (pinned.type !== declared.type) out.push(`type ${typeName(pinned.type)} -> ${typeName(declared.type)}`);
  if (pinned.keySize !== declared.keySize) out.push(`key size ${pinned.keySize} -> ${declared.keySize}`);
  if (pinned.valueSize !== declared.valueSize) out.push(`value size ${pinned.valueSize} -> ${declared.valueSize}`);
  if (pinned.maxEntries !== declared.maxEntries) out.push(`max entries ${pinned.maxEntries} -> ${declared.maxEntries}`);
  if (pinned.flags !== declared.flags) out.push(`flags 0x${pinned.flags.toString(16)} -> 0x${declared.flags.toString(16)}`);
  return out;
}

/** `map vxm_ct: type LRUHash(9) -> HashOfMaps(13), key size 20 -> 4` (log lines, errors). */
export const describeStep = (s: MapStep): string =>
  s.action === 'migrate' ? `map ${s.map}: migrate (${s.converter}): ${s.differences.join(', ')}`
    : s.action === 'recreate' ? `map ${s.map}: recreate (${s.why}): ${s.differences.join(', ')}`
      : `map ${s.map}: ${s.action}`;

/** The flow table's layouts: the flat LRU of builds before the shares, and the shares' outer map. */
export interface FlowLayouts {
  /** sizeof(vxm_ct_key) / sizeof(vxm_ct_entry) of this build (their mirrors in abi.ts). */
  ctKey: number;
  ctEntry: number;
}

/** Which converter carries this map's state, if any. Pure. */
function converterFor(map: string, pinned: MapInfo, declared: MapInfo, flows: FlowLayouts): Converter | undefined {
  if (map === 'vxm_ct' && pinned.type === LRU_HASH && pinned.keySize === flows.ctKey && pinned.valueSize === flows.ctEntry
    && declared.type === HASH_OF_MAPS && declared.keySize === 4) return 'ct-shares';
  if (PERCPU.has(pinned.type) || PERCPU.has(declared.type)) return undefined; // counters: reset
  if (pinned.type === RINGBUF || declared.type === RINGBUF) return undefined; // records in flight, no entries to copy
  const sameEntries = pinned.keySize === declared.keySize && pinned.valueSize === declared.valueSize;
  const hashLike = (t: number) => t === HASH || t === LRU_HASH;
  if (sameEntries && (pinned.type === declared.type || (hashLike(pinned.type) && hashLike(declared.type)))) {
    // Map-in-map values are ids of inner maps: not copyable as bytes.
    if (pinned.type === HASH_OF_MAPS || pinned.type === 12) return undefined;
    return 'copy';
  }
  return undefined;
}

function recreateWhy(old: MapInfo): string {
  if (PERCPU.has(old.type)) return 'counters reset';
  if (old.type === RINGBUF) return 'events not yet read are lost';
  return 'no converter for the old layout: filled from the intent';
}

/** One step per map, pinned or declared, sorted by name. Pure. */
export function planUpgrade(pinned: Record<string, MapInfo>, declared: Record<string, MapInfo>, flows: FlowLayouts): MapStep[] {
  const steps: MapStep[] = [];
  for (const map of [...new Set([...Object.keys(pinned), ...Object.keys(declared)])].sort()) {
    const old = pinned[map];
    const neu = declared[map];
    if (!neu) {
      steps.push({ map, action: 'drop' });
      continue;
    }
    if (!old) {
      steps.push({ map, action: 'create' });
      continue;
    }
    const differences = mapDifferences(old, neu);
    if (differences.length === 0) {
      steps.push({ map, action: 'reuse' });
      continue;
    }
    const converter = converterFor(map, old, neu, flows);
    if (converter) steps.push({ map, action: 'migrate', converter, differences });
    else steps.push({ map, action: 'recreate', differences, why: recreateWhy(old) });
  }
  return steps;
}

/**
 * Pure: the ct-shares converter. Old flat flow entries (keys start with the u32 VNI, host order) grouped per
 * VNI, keeping only VNIs that have a share in the new layout (a network without a policy matches no
 * reply, so its flows are worth nothing); packed keys/values of `keySize`/`valueSize` bytes each.
 */
export function flowsPerShare(keys: Buffer, values: Buffer, count: number, keySize: number, valueSize: number, shares: Set<number>): Map<number, { keys: Buffer[]; values: Buffer[] }> {
  const out = new Map<number, { keys: Buffer[]; values: Buffer[] }>();
  for (let i = 0; i < count; i++) {
    const key = keys.subarray(i * keySize, (i + 1) * keySize);
    const vni = key.readUInt32LE(0);
    if (!shares.has(vni)) continue;
    const g = out.get(vni) ?? { keys: [], values: [] };
    g.keys.push(key);
    g.values.push(values.subarray(i * valueSize, (i + 1) * valueSize));
    out.set(vni, g);
  }
  return out;
}
