/**
 * Policy verdict counters in kernel mode, read from the group chains' rule counters of
 * `bridge vxmesh_policy` (comments `allow-l4|allow-any|deny|deny-nonip g<id> <direction> <policies>`).
 */
import { run } from '../../util/exec.js';
import { POLICY_TABLE } from './policy.js';

export interface PolicyCounterRow {
  group: number;
  direction: string;
  policies: string;
  allowed: number;
  denied: number;
  /** bpf mode only (kernel mode keeps replies in the `flows` set, without a per-group count). */
  replies?: number;
}

/** Pure: `nft -j list table bridge vxmesh_policy` -> one row per group. */
export function policyCounters(json: unknown): PolicyCounterRow[] {
  const rows = new Map<number, PolicyCounterRow>();
  const items = ((json as { nftables?: unknown[] })?.nftables ?? []) as Array<Record<string, any>>;
  for (const it of items) {
    const r = it.rule as { comment?: string; expr?: Array<Record<string, any>> } | undefined;
    const m = r?.comment ? /^(allow-l4|allow-any|deny|deny-nonip) g(\d+) (\w+) (.*?)(?: #[0-9a-f]+)?$/.exec(r.comment) : null;
    if (!m) continue;
    const packets = Number(r!.expr?.find((e) => e.counter)?.counter?.packets ?? 0);
    const g = Number(m[2]);
    const row = rows.get(g) ?? { group: g, direction: m[3]!, policies: m[4]!, allowed: 0, denied: 0 };
    if (m[1]!.startsWith('allow')) row.allowed += packets;
    else row.denied += packets;
    rows.set(g, row);
  }
  return [...rows.values()].sort((a, b) => a.group - b.group);
}

export async function readPolicyCounters(netns?: string): Promise<PolicyCounterRow[]> {
  const r = await run(['nft', '-j', 'list', 'table', 'bridge', POLICY_TABLE], { netns, allowFailure: true });
  return r.exitCode === 0 ? policyCounters(JSON.parse(r.stdout)) : [];
}

export function policyCounterText(rows: PolicyCounterRow[]): string[] {
  if (rows.length === 0) return ['policies: none apply on this node'];
  return [
    'policy groups (packets):',
    ...rows.map((r) => `  g${r.group} ${r.direction} [${r.policies}]: allowed ${r.allowed}, denied ${r.denied}${r.replies !== undefined ? `, replies ${r.replies}` : ''}`),
  ];
}
