/**
 * Policy verdict counters in bpf mode: vxm_pol_stats (per-CPU, summed) joined with vxm_pol_groups
 * (which policies a group stands for). Same rows as kernel mode's.
 */
import { POLICY_VERDICTS, decode } from './abi.js';
import * as bpf from './libbpf.js';
import { MAP_SIZES, type PinnedMaps } from './maps.js';
import type { PolicyCounterRow } from '../kernel/policy-inspect.js';

export function readPolicyRows(maps: PinnedMaps): PolicyCounterRow[] {
  const rows = new Map<number, PolicyCounterRow>();
  for (const [k, v] of maps.readTable('vxm_pol_groups')) {
    const g = decode<{ vni: number; direction: number; policies: number[] }>('vxm_pol_group', Buffer.from(v, 'hex'));
    const id = Buffer.from(k, 'hex').readUInt32LE(0);
    const policies = Buffer.from(g.policies).toString('utf8').replace(/\0+$/, '');
    rows.set(id, { group: id, direction: g.direction === 0 ? 'ingress' : 'egress', policies, allowed: 0, denied: 0, replies: 0 });
  }
  const cpus = bpf.possibleCpus();
  const fd = maps.fd('vxm_pol_stats');
  for (const k of bpf.mapKeys(fd, MAP_SIZES.vxm_pol_stats.key)) {
    const v = bpf.mapLookup(fd, k, 16 * cpus);
    if (!v) continue;
    let packets = 0n;
    for (let c = 0; c < cpus; c++) packets += v.readBigUInt64LE(c * 16);
    const row = rows.get(k.readUInt32LE(0));
    const verdict = POLICY_VERDICTS[k.readUInt32LE(4)];
    if (!row || !verdict) continue; // a group that no longer exists
    if (verdict === 'allowed') row.allowed += Number(packets);
    else if (verdict === 'denied') row.denied += Number(packets);
    else row.replies = (row.replies ?? 0) + Number(packets);
  }
  return [...rows.values()].sort((a, b) => a.group - b.group);
}
