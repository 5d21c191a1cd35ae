/**
 * The `bridge vxmesh_policy` table (policy.ts) as nft transactions, and drift found by content: every
 * rule carries a comment ending in ` #<hash of its text>` (a counter label may precede it), so reading
 * the table back tells rule by rule, chain by chain, whether it is what we want; sets and maps are
 * compared element by element in canonical form (nft.ts canonicalElement). Only the flow sets' elements
 * are not compared: they are the connections' state. Any difference — a flushed chain or set, a rule
 * edited or added by hand, a deleted map — is repaired by one transaction that replaces everything but
 * the flow sets (which are created when missing and deleted with their network). Pure.
 */
import type { NodeIntent } from '../../intent/types.js';
import type { LinkInfo } from '../netlink/link.js';
import type { ObservedTable } from '../netlink/nft.js';
import { Phase, type Change } from '../netlink/change.js';
import { fnv1aHex } from '../../util/hash.js';
import { isFlowSet, policyTableSpec, POLICY_TABLE, type PolicyRuleSpec, type PolicySetSpec, type PolicyTableSpec } from './policy.js';

const T = `bridge ${POLICY_TABLE}`;

export function ruleComment(r: PolicyRuleSpec): string {
  return `${r.label ? `${r.label} ` : ''}#${fnv1aHex(r.text)}`;
}

function renderElement(s: PolicySetSpec, e: string): string {
  if (!s.ifnameKeys) return e;
  const i = e.indexOf(' : ');
  return `"${e.slice(0, i)}"${e.slice(i)}`;
}

function renderSet(s: PolicySetSpec): string {
  const els = s.elements.length ? ` elements = { ${s.elements.map((e) => renderElement(s, e)).join(', ')} };` : '';
  return `${s.map ? 'map' : 'set'} ${s.name} { ${s.decl}${els} }`;
}

/** The table block (without flow sets, which are added separately so that they are never replaced). */
export function renderPolicyTable(spec: PolicyTableSpec): string[] {
  const lines = [`table ${T} {`];
  for (const s of spec.sets) lines.push(`  ${renderSet(s)}`);
  for (const c of spec.chains) {
    lines.push(`  chain ${c.name} {`);
    if (c.head) lines.push(`    ${c.head}`);
    for (const r of c.rules) lines.push(`    ${r.text} comment "${ruleComment(r)}"`);
    lines.push('  }');
  }
  lines.push('}');
  return lines;
}

const sameList = (a: readonly unknown[], b: readonly unknown[]) => a.length === b.length && a.every((x, i) => x === b[i]);
const sorted = (xs: string[]) => [...xs].sort();

/** Why the observed table differs from the spec (content, not a digest), or undefined when it does not. */
export function policyTableDrift(observed: ObservedTable, spec: PolicyTableSpec): string | undefined {
  const chains = new Map(observed.chains.map((c) => [c.name, c]));
  if (observed.chains.length !== spec.chains.length) return 'chain list differs';
  for (const c of spec.chains) {
    const o = chains.get(c.name);
    if (!o) return `chain ${c.name} missing`;
    if (c.head && (o.hook !== 'forward' || o.prio !== 0 || o.policy !== 'accept' || o.type !== 'filter')) return `chain ${c.name} attributes differ`;
    if (!sameList(o.rules, c.rules.map(ruleComment))) return `chain ${c.name} rules differ`;
  }
  const have = new Map<string, string[]>();
  for (const s of observed.sets) have.set(`set ${s.name}`, s.elements);
  for (const m of observed.maps ?? []) have.set(`map ${m.name}`, m.elements);
  for (const f of spec.flowSets) if (!have.has(`set ${f.name}`)) return `flow set ${f.name} missing`;
  const want = new Set(spec.flowSets.map((f) => `set ${f.name}`));
  for (const s of spec.sets) {
    const id = `${s.map ? 'map' : 'set'} ${s.name}`;
    want.add(id);
    const els = have.get(id);
    if (!els) return `${id} missing`;
    if (!sameList(sorted(els), sorted(s.elements))) return `${id} elements differ`;
  }
  for (const id of have.keys()) if (!want.has(id)) return `${id} not wanted`;
  return undefined;
}

/**
 * The one transaction turning the observed table into the desired one (nothing when already equal).
 * `errors` receives the networks left out (policy.ts); the others are programmed.
 */
export function planPolicyTable(observed: ObservedTable | undefined, intent: NodeIntent, links: LinkInfo[], errors?: Array<{ network?: string; vni?: number; message: string }>): Change[] {
  const spec = policyTableSpec(intent, links, errors);
  // Its own phase, right after the VTEP filter: a separate transaction, before any device or FDB change.
  const mk = (script: string, reason: string): Change => ({ tool: 'nft', args: [script], phase: Phase.filter + 1, reason });
  if (!spec) return observed ? [mk(`delete table ${T}`, 'no network on this node')] : [];
  const why = observed ? policyTableDrift(observed, spec) : 'policy table missing';
  if (!why) return [];
  const script = [`add table ${T}`, ...spec.flowSets.map((s) => `add set ${T} ${s.name} { ${s.decl} }`)];
  if (observed) {
    const keep = new Set(spec.flowSets.map((s) => s.name));
    for (const c of observed.chains) script.push(`flush chain ${T} ${c.name}`);
    for (const m of observed.maps ?? []) script.push(`delete map ${T} ${m.name}`);
    for (const c of observed.chains) script.push(`delete chain ${T} ${c.name}`);
    for (const s of observed.sets) if (!(isFlowSet(s.name) && keep.has(s.name))) script.push(`delete set ${T} ${s.name}`);
  }
  script.push(...renderPolicyTable(spec));
  return [mk(script.join('\n'), why)];
}
