/**
 * maps.ts: the live handle on vxmesh's pinned maps (spec vs handle: this holds fds and needs close()).
 * Reads whole tables as hex key -> hex value (desired.ts compares them), applies MapChange lists, and
 * sums the per-CPU counters. Reads and writes go through batch.ts: a few syscalls per map, not one per entry.
 */
import path from 'node:path';
import { BpfError } from '../../errors.js';
import { VERDICTS, decode, encode, sizeOf, u32, type LayoutName, type Verdict } from './abi.js';
import * as bpf from './libbpf.js';
import { deleteKeys, dumpMap, updateEntries, type Packed } from './batch.js';
import { MANAGED_MAPS, emptyState, type ManagedMap, type MapChange, type MapState } from './desired.js';

export const ALL_MAPS = [...MANAGED_MAPS, 'vxm_stats', 'vxm_ct', 'vxm_ct_abi', 'vxm_pol_stats', 'vxm_events', 'vxm_ev_abi', 'vxm_ev_cpu', 'vxm_ev_config'] as const;
export type MapName = (typeof ALL_MAPS)[number];

/** Key and value sizes per map (from the ABI layouts). */
export const MAP_SIZES: Record<MapName, { key: number; value: number }> = {
  vxm_ports: { key: 4, value: sizeOf('vxm_port') },
  vxm_endpoints: { key: sizeOf('vxm_endpoint_key'), value: sizeOf('vxm_endpoint') },
  vxm_arp: { key: sizeOf('vxm_arp_key'), value: sizeOf('vxm_arp_entry') },
  vxm_networks: { key: 4, value: sizeOf('vxm_network') },
  vxm_vteps: { key: sizeOf('vxm_vtep_key'), value: 1 },
  vxm_flood: { key: 4, value: sizeOf('vxm_flood') },
  vxm_config: { key: 4, value: sizeOf('vxm_config') },
  vxm_stats: { key: sizeOf('vxm_stat_key'), value: sizeOf('vxm_stat') },
  vxm_pol_eps: { key: sizeOf('vxm_endpoint_key'), value: sizeOf('vxm_pol_ep') },
  vxm_pol_rules: { key: sizeOf('vxm_pol_key'), value: sizeOf('vxm_pol_value') },
  vxm_pol_groups: { key: 4, value: sizeOf('vxm_pol_group') },
  vxm_ct: { key: 4, value: 4 }, // vni -> inner map (ct-shares.ts)
  vxm_ct_abi: { key: sizeOf('vxm_ct_key'), value: sizeOf('vxm_ct_entry') }, // BTF anchor, never used
  vxm_pol_stats: { key: sizeOf('vxm_pol_stat_key'), value: sizeOf('vxm_stat') },
  vxm_events: { key: 0, value: 0 }, // a ring buffer: records, not entries (events-reader.ts)
  vxm_ev_abi: { key: 4, value: sizeOf('vxm_event') }, // BTF anchor, never used
  vxm_ev_cpu: { key: 4, value: sizeOf('vxm_ev_cpu') },
  vxm_ev_config: { key: 4, value: sizeOf('vxm_ev_config') },
};

export interface StatRow { vni: number; verdict: Verdict; packets: number; bytes: number }

/** The event counters of vxm_ev_cpu, summed over CPUs: sent, and lost over the budget or with the ring full. */
export interface EventCounters { sent: number; lostRate: number; lostRing: number }

export class PinnedMaps {
  private constructor(readonly pinDir: string, private readonly fds: Record<MapName, number>) {}

  /** Opens every pinned map; names any that is missing. */
  static open(pinDir: string): PinnedMaps {
    const fds = {} as Record<MapName, number>;
    try {
      for (const m of ALL_MAPS) fds[m] = bpf.objGet(path.join(pinDir, m));
    } catch (err) {
      for (const fd of Object.values(fds)) bpf.closeFd(fd);
      throw err;
    }
    return new PinnedMaps(pinDir, fds);
  }

  fd(map: MapName): number {
    return this.fds[map];
  }

  readTable(map: MapName): Map<string, string> {
    const { key, value } = MAP_SIZES[map];
    return hexTable(dumpMap(this.fds[map], key, value), key, value);
  }

  readState(): MapState {
    const s = emptyState();
    for (const m of MANAGED_MAPS) s[m] = this.readTable(m);
    return s;
  }

  /**
   * Writes the changes in their order, one batch per run of same-map same-op changes. An update the
   * kernel refuses (e.g. E2BIG, the map is full) does not stop the others: it is retried once after the
   * deletes (which may have made room) and, if still refused, returned. A refused delete throws.
   */
  apply(changes: MapChange[]): RefusedChange[] {
    let refused: RefusedChange[] = [];
    for (const run of changeRuns(changes)) refused.push(...this.applyRun(run));
    if (refused.length && changes.some((c) => c.op === 'delete')) {
      const again = refused.map((r) => r.change);
      refused = [];
      for (const run of changeRuns(again)) refused.push(...this.applyRun(run));
    }
    return refused;
  }

  private applyRun(run: ChangeRun): RefusedChange[] {
    const fd = this.fds[run.map];
    const { key, value } = MAP_SIZES[run.map];
    const keys = packHex(run.map, run.changes.map((c) => c.key), key);
    if (run.op === 'delete') {
      deleteKeys(fd, key, keys, run.changes.length);
      return [];
    }
    const values = packHex(run.map, run.changes.map((c) => c.value ?? ''), value);
    return updateEntries(fd, key, value, { count: run.changes.length, keys, values }).map((r) => ({ change: run.changes[r.index]!, errno: r.errno, message: r.message }));
  }

  /** Decoded entries of one managed map (for inspect). */
  entries<K, V>(map: ManagedMap, keyLayout: LayoutName | 'u32', valueLayout: LayoutName | 'u8'): Array<{ key: K; value: V }> {
    const out: Array<{ key: K; value: V }> = [];
    for (const [k, v] of this.readTable(map)) {
      const kb = Buffer.from(k, 'hex');
      const vb = Buffer.from(v, 'hex');
      out.push({
        key: (keyLayout === 'u32' ? kb.readUInt32LE(0) : decode(keyLayout, kb)) as K,
        value: (valueLayout === 'u8' ? vb[0] : decode(valueLayout, vb)) as V,
      });
    }
    return out;
  }

  /** Per-CPU counters summed, one row per {vni, verdict}. */
  readStats(): StatRow[] {
    const cpus = bpf.possibleCpus();
    const slot = 16; // sizeof(struct vxm_stat), already 8-aligned
    const rows: StatRow[] = [];
    const ks = MAP_SIZES.vxm_stats.key;
    const all = dumpMap(this.fds.vxm_stats, ks, slot * cpus); // per-CPU: one slot per possible CPU
    for (let i = 0; i < all.count; i++) {
      const k = all.keys.subarray(i * ks, (i + 1) * ks);
      const v = all.values.subarray(i * slot * cpus, (i + 1) * slot * cpus);
      let packets = 0n;
      let bytes = 0n;
      for (let c = 0; c < cpus; c++) {
        packets += v.readBigUInt64LE(c * slot);
        bytes += v.readBigUInt64LE(c * slot + 8);
      }
      const verdict = VERDICTS[k.readUInt32LE(4)];
      if (!verdict) throw new BpfError('vxm_stats', 22, `unknown verdict ${k.readUInt32LE(4)}`);
      rows.push({ vni: k.readUInt32LE(0), verdict, packets: Number(packets), bytes: Number(bytes) });
    }
    return rows.sort((a, b) => a.vni - b.vni || VERDICTS.indexOf(a.verdict) - VERDICTS.indexOf(b.verdict));
  }

  /** vxm_ev_cpu summed over CPUs (a per-CPU array: one lookup returns every CPU's slot). */
  readEventCounters(): EventCounters {
    const cpus = bpf.possibleCpus();
    const slot = MAP_SIZES.vxm_ev_cpu.value; // 32, 8-aligned
    const v = bpf.mapLookup(this.fds.vxm_ev_cpu, u32(0), slot * cpus);
    const out = { sent: 0, lostRate: 0, lostRing: 0 };
    for (let c = 0; v && c < cpus; c++) {
      out.sent += Number(v.readBigUInt64LE(c * slot + 8));
      out.lostRate += Number(v.readBigUInt64LE(c * slot + 16));
      out.lostRing += Number(v.readBigUInt64LE(c * slot + 24));
    }
    return out;
  }

  /** vxm_ev_config flags (EV_TRACE: events for forwarding verdicts too). */
  eventFlags(): number {
    const v = bpf.mapLookup(this.fds.vxm_ev_config, u32(0), MAP_SIZES.vxm_ev_config.value);
    return v ? v.readUInt32LE(0) : 0;
  }

  setEventFlags(flags: number): void {
    bpf.mapUpdate(this.fds.vxm_ev_config, u32(0), encode('vxm_ev_config', { flags, pad: 0 }));
  }

  close(): void {
    for (const fd of Object.values(this.fds)) bpf.closeFd(fd);
  }
}

/** Packed entries as hex key -> hex value (the form desired.ts computes and compares). */
export function hexTable(p: Packed, keySize: number, valueSize: number): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < p.count; i++) {
    // A string per entry, not substrings of one: diffMaps hashes and compares these flat strings faster.
    out.set(p.keys.toString('hex', i * keySize, (i + 1) * keySize), p.values.toString('hex', i * valueSize, (i + 1) * valueSize));
  }
  return out;
}

/** Hex strings of `size` bytes each, back to back; a string of another length is an ABI mismatch, not written. */
export function packHex(map: string, hex: string[], size: number): Buffer {
  const out = Buffer.alloc(hex.length * size);
  hex.forEach((h, i) => {
    if (h.length !== size * 2) throw new BpfError(map, 22, `entry of ${h.length / 2} bytes, the map takes ${size}`);
    out.write(h, i * size, size, 'hex');
  });
  return out;
}

/** A map update the kernel refused (after one retry). */
export interface RefusedChange {
  change: MapChange;
  errno: number;
  message: string;
}

/**
 * Pure: the VNI a map entry belongs to (keys {vni, …} of vxm_endpoints/vxm_arp/vxm_pol_eps, vni keys of
 * vxm_networks/vxm_flood, the value's vni of vxm_ports); undefined for node-wide maps (vteps, config, policy rules/groups).
 */
export function vniOfChange(c: MapChange): number | undefined {
  const hex = c.map === 'vxm_ports' ? c.value : c.key;
  if (!hex || hex.length < 8) return undefined;
  if (!['vxm_ports', 'vxm_endpoints', 'vxm_arp', 'vxm_pol_eps', 'vxm_networks', 'vxm_flood'].includes(c.map)) return undefined;
  return Buffer.from(hex.slice(0, 8), 'hex').readUInt32LE(0);
}

export interface ChangeRun { map: ManagedMap; op: MapChange['op']; changes: MapChange[] }

/** Consecutive changes to the same map with the same op, in order (diffMaps emits a map's updates, then its deletes). */
export function changeRuns(changes: MapChange[]): ChangeRun[] {
  const runs: ChangeRun[] = [];
  for (const c of changes) {
    const last = runs[runs.length - 1];
    if (last && last.map === c.map && last.op === c.op) last.changes.push(c);
    else runs.push({ map: c.map, op: c.op, changes: [c] });
  }
  return runs;
}

/** Counter lookup helper: packets for {vni, verdict} (0 when absent). */
export function statPackets(rows: StatRow[], vni: number, verdict: Verdict): number {
  return rows.find((r) => r.vni === vni && r.verdict === verdict)?.packets ?? 0;
}
