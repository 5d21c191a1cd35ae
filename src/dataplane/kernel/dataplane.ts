/**
 * KernelDataplane: per-VNI vxlan devices, static FDB/neighbours and an nft VTEP filter, plus the shared
 * bridges and gateway. reconcile() = one observation, one pure plan, batched apply.
 */
import type { Dataplane, DataplaneOptions, ReconcileReport, InspectReport, PacketCounter } from '../dataplane.js';
import type { NodeIntent } from '../../intent/types.js';
import { DataplaneError } from '../../errors.js';
import { applyChanges } from '../netlink/batch.js';
import { describeChange, Phase, type Change } from '../netlink/change.js';
import { observeNode } from '../netlink/observe.js';
import { observeGateways, cleanupGateways, failuresToErrors } from '../gateway/index.js';
import { reconcileDhcp } from '../dhcp/index.js';
import { vniOf } from '../gateway/networks.js';
import { planKernel } from './plan.js';
import { staticEntryCounts } from './fdb.js';
import { inspectData, inspectText } from './inspect.js';
import { VTEP_TABLE } from './vtep-filter.js';
import { POLICY_TABLE } from './policy.js';
import { FLOOD_TABLE } from './flood-limit.js';
import { policyCounterText, readPolicyCounters } from './policy-inspect.js';
import { ANTISPOOF_TABLE, antispoofState, planAntispoof } from './antispoof.js';
import { logUnbound, removeAntispoof } from './antispoof-apply.js';
import { findTable } from '../netlink/nft.js';
import { UnboundReporter } from '../vm-ports.js';

export class KernelDataplane implements Dataplane {
  readonly mode = 'kernel' as const;
  private readonly unbound = new UnboundReporter();
  constructor(private readonly opts: DataplaneOptions) {}

  private get log() {
    return this.opts.log.child({ component: 'dataplane.kernel', node: this.opts.node });
  }

  async reconcile(intent: NodeIntent): Promise<ReconcileReport> {
    const t0 = Date.now();
    const log = this.log;
    let obs;
    try {
      obs = await observeGateways({ node: this.opts.node, netns: this.opts.netns });
    } catch (cause) {
      throw new DataplaneError('KERNEL_OBSERVE', `cannot read node ${this.opts.node}: ${(cause as Error).message}`, { cause });
    }
    const plan = planKernel(obs, intent);
    // VM ports: the anti-spoofing table (antispoof.ts), before any other change.
    const gate = antispoofState(intent, obs.node.links);
    plan.changes.unshift(...planAntispoof(findTable(obs.node.tables, 'bridge', ANTISPOOF_TABLE), gate, obs.node.links));
    logUnbound(gate.unbound, this.unbound, log);
    for (const c of plan.changes) {
      if (c.reason?.startsWith('vxlan attributes differ')) log.warn({ vni: c.vni, op: 'recreate', reason: c.reason }, 'vxlan device recreated');
    }
    const res = await applyChanges(plan.changes, { netns: this.opts.netns, log });
    // DHCP after the gateways: its servers live in the router namespaces.
    const dhcp = await reconcileDhcp(intent, { node: this.opts.node, netns: this.opts.netns, log, tables: obs.node.tables });
    res.applied += dhcp.applied;
    const errors = [...plan.errors, ...failuresToErrors(res.failures, intent), ...dhcp.errors];
    for (const e of errors) log.error({ vni: e.vni, network: e.network, err: e.message }, 'network not converged');
    const durationMs = Date.now() - t0;
    const level = res.applied > 0 || errors.length > 0 ? 'info' : 'debug';
    log[level]({ changes: res.applied, errors: errors.length, skipped: res.skipped, durationMs }, 'reconciled');
    // Counted from the intent, not re-observed: only a converged pass is known to hold exactly that.
    const entries = errors.length === 0 ? staticEntryCounts(intent) : undefined;
    return { mode: 'kernel', changes: res.applied, errors, durationMs, entries };
  }

  /** The kernel's vxlan/bridge path keeps no per-VNI verdict counters. */
  async counters(): Promise<PacketCounter[]> {
    return [];
  }

  async inspect(): Promise<InspectReport> {
    const policy = await readPolicyCounters(this.opts.netns);
    const data = { ...inspectData(await observeGateways({ node: this.opts.node, netns: this.opts.netns })), policy };
    return { mode: 'kernel', text: [inspectText(data), ...policyCounterText(policy)].join('\n'), data };
  }

  async cleanup(): Promise<void> {
    await this.retire();
    await removeAntispoof(this.opts.netns); // shared by both modes: retire() keeps it
    const res = await cleanupGateways({ node: this.opts.node, netns: this.opts.netns, log: this.log, bridges: true });
    this.throwOnFailure(res.failures, 'cleanup');
  }

  async retire(): Promise<void> {
    const node = await observeNode({ netns: this.opts.netns });
    const changes: Change[] = node.links
      .filter((l) => vniOf(l.name, 'vxl') !== undefined)
      .map((l) => ({ tool: 'ip' as const, args: ['link', 'del', l.name], phase: Phase.linkDel }));
    if (node.tables.some((t) => t.family === 'inet' && t.name === VTEP_TABLE)) {
      changes.push({ tool: 'nft', args: [`delete table inet ${VTEP_TABLE}`], phase: Phase.nft });
    }
    for (const table of [POLICY_TABLE, FLOOD_TABLE]) {
      if (node.tables.some((t) => t.family === 'bridge' && t.name === table)) {
        changes.push({ tool: 'nft', args: [`delete table bridge ${table}`], phase: Phase.nft });
      }
    }
    const res = await applyChanges(changes, { netns: this.opts.netns, log: this.log });
    this.throwOnFailure(res.failures, 'retire');
  }

  async close(): Promise<void> {}

  private throwOnFailure(failures: Array<{ change: Change; message: string }>, op: string): void {
    if (failures.length === 0) return;
    throw new DataplaneError('KERNEL_' + op.toUpperCase(), `${op}: ${failures.map((f) => `${describeChange(f.change)}: ${f.message}`).join('; ')}`);
  }
}
