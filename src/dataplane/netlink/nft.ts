/**
 * nftables tables vxmesh owns (named `vxmesh*`), as specs. Every rule carries a comment
 * `<id>#<hash of its text>`, so reading the table back (`nft -j list ruleset`) tells whether each rule is
 * the one we want without re-parsing nft's expression JSON. A table whose chains or rules differ is
 * replaced in one atomic transaction (existing conntrack/NAT state is untouched); set elements are
 * updated in place (add/delete element), so membership changes never rebuild the table.
 */
import { z } from 'zod';
import { runJson } from '../../util/exec.js';
import { Phase, type Change } from './change.js';
import { fnv1aHex } from '../../util/hash.js';

export interface NftRuleSpec {
  id: string;
  /** nft rule text without the comment, e.g. `oifname "up0" masquerade`. */
  text: string;
}
export interface NftChainSpec {
  name: string;
  type: 'filter' | 'nat';
  hook: 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
  prio: number;
  policy: 'accept' | 'drop';
  rules: NftRuleSpec[];
}
/**
 * A base chain named after its hook. vxmesh chains always accept by default and their rules drop what must
 * not pass: the node namespace is shared, and a drop policy would also drop traffic vxmesh does not own.
 */
export function chain(type: NftChainSpec['type'], hook: NftChainSpec['hook'], prio: number, rules: NftRuleSpec[]): NftChainSpec {
  return { name: hook, type, hook, prio, policy: 'accept', rules };
}

export interface NftSetSpec {
  name: string;
  /** `inet_service`: ports, elements as decimal strings (as `nft -j` lists them, stringified). */
  type: 'ipv4_addr' | 'inet_service';
  elements: string[];
}
export interface NftTableSpec {
  family: 'inet' | 'bridge';
  name: string;
  sets: NftSetSpec[];
  chains: NftChainSpec[];
}

export interface ObservedChain {
  name: string;
  type?: string;
  hook?: string;
  prio?: number;
  policy?: string;
  /** Rule comments in order (undefined for a rule without comment: someone else's edit). */
  rules: Array<string | undefined>;
}
export interface ObservedTable {
  family: string;
  name: string;
  sets: Array<{ name: string; type: string; elements: string[] }>;
  /** Verdict/data maps (elements `<key> : <value>`, canonical like set elements). */
  maps?: Array<{ name: string; elements: string[] }>;
  chains: ObservedChain[];
}

/**
 * One set or map element of `nft -j` output in the text form vxmesh renders: addresses and ports as is,
 * ranges `a-b` (a prefix becomes its range, a one-address range the address), concatenations joined by
 * ` . `, map entries `<key> : <value>`, verdicts `jump <chain>` / `goto <chain>`; timeouts are dropped.
 */
export function canonicalElement(e: unknown): string {
  if (typeof e === 'string' || typeof e === 'number') return String(e);
  if (Array.isArray(e)) return e.map(canonicalElement).join(' : ');
  if (typeof e !== 'object' || e === null) return String(e);
  const o = e as Record<string, any>;
  if (o.elem) return canonicalElement(o.elem.val);
  if (o.concat) return (o.concat as unknown[]).map(canonicalElement).join(' . ');
  if (o.range) {
    const [a, b] = (o.range as unknown[]).map(canonicalElement);
    return a === b ? a! : `${a}-${b}`;
  }
  if (o.prefix) {
    const { addr, len } = o.prefix as { addr: string; len: number };
    if (len >= 32) return addr;
    const n = addr.split('.').reduce((x, v) => x * 256 + Number(v), 0);
    const last = n + 2 ** (32 - len) - 1;
    return `${addr}-${[24, 16, 8, 0].map((sh) => Math.floor(last / 2 ** sh) % 256).join('.')}`;
  }
  for (const v of ['jump', 'goto'] as const) if (o[v]) return `${v} ${o[v].target}`;
  for (const v of ['accept', 'drop', 'return', 'continue']) if (v in o) return v;
  return JSON.stringify(o);
}

export function ruleComment(r: NftRuleSpec): string {
  return `${r.id}#${fnv(r.text)}`;
}

const fnv = fnv1aHex;

export function renderTable(t: NftTableSpec): string {
  const lines = [`table ${t.family} ${t.name} {`];
  for (const s of t.sets) {
    const el = s.elements.length ? ` elements = { ${s.elements.join(', ')} }` : '';
    lines.push(`  set ${s.name} { type ${s.type};${el} }`);
  }
  for (const c of t.chains) {
    lines.push(`  chain ${c.name} {`, `    type ${c.type} hook ${c.hook} priority ${c.prio}; policy ${c.policy};`);
    for (const r of c.rules) lines.push(`    ${r.text} comment "${ruleComment(r)}"`);
    lines.push('  }');
  }
  lines.push('}');
  return lines.join('\n');
}

/** Why the table's structure differs (undefined when only set elements may differ). */
export function structuralDiff(observed: ObservedTable, desired: NftTableSpec): string | undefined {
  const oSets = new Map(observed.sets.map((s) => [s.name, s]));
  if (observed.sets.length !== desired.sets.length) return 'set list differs';
  for (const s of desired.sets) {
    const o = oSets.get(s.name);
    if (!o) return `set ${s.name} missing`;
    if (o.type !== s.type) return `set ${s.name} type differs`;
  }
  if (observed.chains.length !== desired.chains.length) return 'chain list differs';
  const oChains = new Map(observed.chains.map((c) => [c.name, c]));
  for (const c of desired.chains) {
    const o = oChains.get(c.name);
    if (!o) return `chain ${c.name} missing`;
    if (o.type !== c.type || o.hook !== c.hook || o.prio !== c.prio || o.policy !== c.policy) return `chain ${c.name} attributes differ`;
    const want = c.rules.map(ruleComment);
    if (want.length !== o.rules.length || want.some((w, i) => w !== o.rules[i])) return `chain ${c.name} rules differ`;
  }
  return undefined;
}

/** The smallest change turning `observed` into `desired` (undefined desired: the table goes). */
export function planTable(observed: ObservedTable | undefined, desired: NftTableSpec | undefined, ctx: { ns?: string; vni?: number } = {}): Change[] {
  const mk = (args: string, reason: string): Change => ({ tool: 'nft', args: [args], ns: ctx.ns, vni: ctx.vni, phase: Phase.nft, reason });
  if (!desired) return observed ? [mk(`delete table ${observed.family} ${observed.name}`, 'table not wanted')] : [];
  const id = `${desired.family} ${desired.name}`;
  if (!observed) return [mk(renderTable(desired), 'table missing')];
  const why = structuralDiff(observed, desired);
  if (why) return [mk(`table ${id} {}\ndelete table ${id}\n${renderTable(desired)}`, why)];
  const out: Change[] = [];
  for (const s of desired.sets) {
    const have = new Set(observed.sets.find((o) => o.name === s.name)!.elements);
    const want = new Set(s.elements);
    const add = s.elements.filter((e) => !have.has(e));
    const del = [...have].filter((e) => !want.has(e));
    for (const e of add) out.push(mk(`add element ${id} ${s.name} { ${e} }`, 'set member missing'));
    for (const e of del) out.push(mk(`delete element ${id} ${s.name} { ${e} }`, 'set member stale'));
  }
  return out;
}

const Item = z.record(z.unknown());

/** Parses `nft -j list ruleset` into the tables whose name starts with `prefix`. */
export function parseRuleset(json: unknown, prefix = 'vxmesh'): ObservedTable[] {
  const items = z.object({ nftables: z.array(Item) }).parse(json).nftables;
  const tables = new Map<string, ObservedTable>();
  const key = (f: unknown, t: unknown) => `${String(f)} ${String(t)}`;
  for (const it of items) {
    const t = it.table as { family: string; name: string } | undefined;
    if (t && t.name.startsWith(prefix)) tables.set(key(t.family, t.name), { family: t.family, name: t.name, sets: [], chains: [] });
  }
  for (const it of items) {
    const s = it.set as { family: string; table: string; name: string; type: unknown; elem?: unknown[] } | undefined;
    const c = it.chain as { family: string; table: string; name: string; type?: string; hook?: string; prio?: number; policy?: string } | undefined;
    const r = it.rule as { family: string; table: string; chain: string; comment?: string } | undefined;
    const m = it.map as { family: string; table: string; name: string; elem?: unknown[] } | undefined;
    if (s) tables.get(key(s.family, s.table))?.sets.push({ name: s.name, type: typeText(s.type), elements: (s.elem ?? []).map(canonicalElement) });
    if (m) {
      const t = tables.get(key(m.family, m.table));
      if (t) (t.maps ??= []).push({ name: m.name, elements: (m.elem ?? []).map(canonicalElement) });
    }
    if (c) tables.get(key(c.family, c.table))?.chains.push({ name: c.name, type: c.type, hook: c.hook, prio: c.prio, policy: c.policy, rules: [] });
    if (r) tables.get(key(r.family, r.table))?.chains.find((x) => x.name === r.chain)?.rules.push(r.comment);
  }
  return [...tables.values()];
}

/** A set's type as nft writes it: `ipv4_addr`, or `iface_index . ether_addr` for a concatenation. */
const typeText = (t: unknown): string => (Array.isArray(t) ? t.map(String).join(' . ') : String(t));

export async function listOwnedTables(opts: { netns?: string }): Promise<ObservedTable[]> {
  return parseRuleset(await runJson(['nft', '-j', 'list', 'ruleset'], { netns: opts.netns }));
}

export function findTable(tables: ObservedTable[], family: string, name: string): ObservedTable | undefined {
  return tables.find((t) => t.family === family && t.name === name);
}
