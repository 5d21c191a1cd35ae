/**
 * maps.ts: the live handle on vxmesh's pinned maps (spec vs handle: this holds fds and needs close()).
 * Reads whole tables as hex key -> hex value (desired.ts compares them), applies MapChange lists, and
 * sums the per-CPU counters.
 */
import path from 'node:path';
import { BpfError } from '../../errors.js';
import { VERDICTS, decode, sizeOf, type LayoutName, type Verdict } from './abi.js';
import * as bpf from './libbpf.js';
import { MANAGED_MAPS, emptyState, type ManagedMap, type MapChange, type MapState } from './desired.js';

export const ALL_MAPS = [...MANAGED_MAPS, 'vxm_stats', 'vxm_ct', 'vxm_pol_stats'] as const;
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
  vxm_ct: { key: sizeOf('vxm_ct_key'), value: sizeOf('vxm_ct_entry') },
  vxm_pol_stats: { key: sizeOf('vxm_pol_stat_key'), value: sizeOf('vxm_stat') },
};

export interface StatRow { vni: number; verdict: Verdict; packets: number; bytes: number }

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
    const out = new Map<string, string>();
    for (const k of bpf.mapKeys(this.fds[map], key)) {
      const v = bpf.mapLookup(this.fds[map], k, value);
      if (v) out.set(k.toString('hex'), v.toString('hex'));
    }
    return out;
  }

  readState(): MapState {
    const s = emptyState();
    for (const m of MANAGED_MAPS) s[m] = this.readTable(m);
    return s;
  }

  apply(changes: MapChange[]): void {
    for (const c of changes) {
      const fd = this.fds[c.map];
      const key = Buffer.from(c.key, 'hex');
      if (c.op === 'delete') bpf.mapDelete(fd, key);
      else bpf.mapUpdate(fd, key, Buffer.from(c.value ?? '', 'hex'));
    }
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
    for (const k of bpf.mapKeys(this.fds.vxm_stats, MAP_SIZES.vxm_stats.key)) {
      const v = bpf.mapLookup(this.fds.vxm_stats, k, slot * cpus);
      if (!v) continue;
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

  close(): void {
    for (const fd of Object.values(this.fds)) bpf.closeFd(fd);
  }
}

/** Counter lookup helper: packets for {vni, verdict} (0 when absent). */
export function statPackets(rows: StatRow[], vni: number, verdict: Verdict): number {
  return rows.find((r) => r.vni === vni && r.verdict === verdict)?.packets ?? 0;
}
