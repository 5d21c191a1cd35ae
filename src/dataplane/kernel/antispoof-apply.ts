/**
 * The anti-spoofing table's side effects (antispoof.ts decides): observe it, apply the plan, remove it.
 * Both dataplanes use it; retire() of either mode keeps the table (the other mode keeps using it, so a
 * mode switch never leaves the VM ports open) and cleanup() removes it.
 */
import type { Logger } from 'pino';
import type { NodeIntent } from '../../intent/types.js';
import { run } from '../../util/exec.js';
import type { LinkInfo } from '../netlink/link.js';
import { findTable, parseRuleset } from '../netlink/nft.js';
import { applyChanges } from '../netlink/batch.js';
import type { UnboundReporter } from '../vm-ports.js';
import { ANTISPOOF_TABLE, antispoofState, planAntispoof } from './antispoof.js';

/** Brings the table to the intent's content; returns the number of changes and the failure, if any. */
export async function reconcileAntispoof(intent: NodeIntent, links: LinkInfo[], ctx: { netns?: string; log: Logger; reporter: UnboundReporter }): Promise<{ applied: number; error?: string }> {
  const r = await run(['nft', '-j', 'list', 'table', 'bridge', ANTISPOOF_TABLE], { netns: ctx.netns, allowFailure: true });
  const observed = r.exitCode === 0 ? findTable(parseRuleset(JSON.parse(r.stdout)), 'bridge', ANTISPOOF_TABLE) : undefined;
  const state = antispoofState(intent, links);
  logUnbound(state.unbound, ctx.reporter, ctx.log);
  const res = await applyChanges(planAntispoof(observed, state, links), { netns: ctx.netns, log: ctx.log });
  return { applied: res.applied, error: res.failures[0] ? `anti-spoofing table: ${res.failures[0].message}` : undefined };
}

export function logUnbound(unbound: Parameters<UnboundReporter['fresh']>[0], reporter: UnboundReporter, log: Logger): void {
  for (const p of reporter.fresh(unbound)) {
    log.warn({ vni: p.vni, port: p.name, alias: p.alias }, 'VM port without a valid binding to a VM NIC of this node: it carries nothing');
  }
}

export async function removeAntispoof(netns: string | undefined): Promise<void> {
  const r = await run(['nft', 'list', 'table', 'bridge', ANTISPOOF_TABLE], { netns, allowFailure: true });
  if (r.exitCode === 0) await run(['nft', 'delete', 'table', 'bridge', ANTISPOOF_TABLE], { netns });
}
