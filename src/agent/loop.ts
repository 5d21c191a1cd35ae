/**
 * The agent's reconcile loop, level-triggered: any source event marks the node dirty; one pass takes the
 * latest snapshot, finds this node's VTEPs, computes the intent and hands it to the dataplane, then
 * publishes this node's status. A pass whose intent equals the last applied one is skipped unless it is a
 * periodic resync (which re-observes and repairs drift). Stopping never touches the dataplane.
 * What a pass cannot read it does not guess: an unreadable source, uplink listing or a failed intent
 * computation holds the pass before the dataplane (nothing applied or removed; not ready, with the reason).
 */
import type { Logger } from 'pino';
import type { Dataplane, DataplaneMode, ReconcileReport } from '../dataplane/dataplane.js';
import { computeIntent } from '../intent/compute.js';
import type { NodeIntent } from '../intent/types.js';
import type { Source } from './source.js';
import { statusObject } from './status.js';
import { localVteps, type VtepResult } from './vtep.js';

export interface LoopOptions {
  node: string;
  source: Source;
  dataplane: Dataplane;
  mode: DataplaneMode;
  log: Logger;
  /** Periodic resync; 0 disables it. */
  resyncMs: number;
  /** Namespace holding the uplink (tests drive a node from the root namespace). */
  netns?: string;
  /** Log every pass at info (--once); by default passes without changes log at debug. */
  logEveryPass?: boolean;
  /** Why the mode is not what was asked (auto fell back to kernel), published as the DataplaneMode condition. */
  modeNote?: string;
  /** Called after every pass that reached the dataplane, and after each pass held before it (`held` set). */
  onPass?: (r: PassResult & { durationMs: number }) => void;
}

/** Where a pass stopped before reaching the dataplane. */
export type HeldStage = 'source' | 'uplink' | 'intent';

export interface PassResult {
  skipped: boolean;
  /** The pass stopped before the dataplane (nothing applied): which input could not be read or computed. */
  held?: HeldStage;
  report?: ReconcileReport;
  intent?: NodeIntent;
  /** Dataplane errors, exceptions, missing VTEPs and invalid input, as messages. */
  errors: string[];
  /** The dataplane and VTEPs have no error. Invalid input does not count: it is ignored (last good version kept). */
  converged: boolean;
  /** Per cluster network of this node: whether it has a VTEP address now (false: peers cannot tunnel to it). */
  vteps?: Record<string, boolean>;
}

export class ReconcileLoop {
  private dirty = false;
  private forced = false;
  private running: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastIntent = '';
  private lastOk = false;
  private lastErrors: string[] = [];
  /** The reason of the held pass whose status was published last (undefined after a pass reached the dataplane). */
  private heldPublished: string | undefined;
  private stopped = false;
  /** The intent of the latest pass that reached the dataplane (what portsChanged programs from). */
  private intentNow: NodeIntent | undefined;
  private portsDirty = false;
  private portsRunning: Promise<void> | undefined;
  passes = 0;
  /** Epoch ms of the last pass that reached the dataplane (0 before the first). */
  lastPassAt = 0;

  constructor(private readonly o: LoopOptions) {}

  /** A pass reached the dataplane and the latest one converged (what /readyz answers). */
  get ready(): boolean {
    return this.lastPassAt > 0 && this.lastOk;
  }

  /** Why the agent is not ready (what /readyz prints with its 503); undefined when ready. */
  get notReadyReason(): string | undefined {
    if (this.ready) return undefined;
    if (this.lastErrors.length) return this.lastErrors.join('; ').slice(0, 1000);
    return this.lastPassAt === 0 ? 'no pass has reached the dataplane yet' : 'the last pass did not converge';
  }

  /** Marks dirty and makes sure one pass runs soon. */
  kick(force = false): void {
    if (this.stopped) return;
    this.dirty = true;
    if (force) this.forced = true;
    if (this.running) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
    });
  }

  /**
   * A VM port was plugged into or left a vxmesh bridge: the dataplane's fast lane programs the ports from
   * the latest intent at once (a live migration's switchover waits for no pass in flight), then a forced
   * pass follows as for any change.
   */
  portsChanged(): void {
    if (this.stopped) return;
    if (this.o.dataplane.programPorts && this.intentNow) {
      this.portsDirty = true;
      this.portsRunning ??= this.drainPorts().finally(() => {
        this.portsRunning = undefined;
      });
    }
    this.kick(true);
  }

  private async drainPorts(): Promise<void> {
    while (this.portsDirty && !this.stopped && this.intentNow) {
      this.portsDirty = false;
      try {
        const r = await this.o.dataplane.programPorts!(this.intentNow);
        if (r && (r.changes > 0 || r.errors > 0)) this.o.log.info({ mode: this.o.mode, ...r }, 'ports programmed');
      } catch (err) {
        this.o.log.warn({ err: (err as Error).message }, 'programming ports failed; the next pass retries');
      }
    }
  }

  start(): void {
    if (this.o.resyncMs > 0) this.timer = setInterval(() => this.kick(true), this.o.resyncMs);
    this.kick(true);
  }

  /** Stops scheduling and waits for the pass in flight (the dataplane is left as it is). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.all([this.running, this.portsRunning]);
  }

  private async drain(): Promise<void> {
    while (this.dirty && !this.stopped) {
      const force = this.forced;
      this.dirty = false;
      this.forced = false;
      await this.pass(force);
    }
  }

  /** One pass; exported for --once. */
  async pass(force: boolean): Promise<PassResult> {
    const { node, source } = this.o;
    const state = source.current();
    // The pass applies a snapshot known current at this time: that is what lastReconcile reports.
    const snapshotAt = new Date(state.checkedAt || Date.now());
    const inputErrors = state.errors.map((e) => e.message);
    // What the pass cannot read it does not guess: the dataplane stays as it is (no empty snapshot, no missing uplink).
    if (state.readError !== undefined) return this.held('source', `source unreadable, dataplane left as it is: ${state.readError}`, inputErrors);
    let vt: VtepResult;
    try {
      vt = await localVteps(state.snapshot, node, this.o.netns, this.o.log);
    } catch (err) {
      return this.held('uplink', `uplink unreadable, dataplane left as it is: ${(err as Error).message}`, inputErrors);
    }
    let intent: NodeIntent;
    try {
      intent = computeIntent(state.snapshot, node, { vteps: vt.vteps, uplinks: vt.uplinks });
    } catch (err) {
      return this.held('intent', `intent: ${(err as Error).message}`, inputErrors);
    }
    const { dataplane, mode, log } = this.o;
    const key = JSON.stringify(intent);
    if (!force && this.lastOk && key === this.lastIntent) return { skipped: true, intent, errors: inputErrors, converged: true };
    this.passes++;
    this.intentNow = intent;
    const started = Date.now();
    let report: ReconcileReport | undefined;
    const errors: string[] = [];
    try {
      report = await dataplane.reconcile(intent);
      errors.push(...report.errors.map((e) => `${e.network ?? (e.vni !== undefined ? `vni ${e.vni}` : 'node')}: ${e.message}`));
    } catch (err) {
      errors.push((err as Error).message);
    }
    for (const m of vt.missing) errors.push(`${m.clusterNetwork}: ${m.reason}`);
    const durationMs = Date.now() - started;
    this.lastIntent = key;
    this.lastOk = errors.length === 0;
    this.lastErrors = errors;
    this.heldPublished = undefined;
    const summary = { mode, changes: report?.changes ?? 0, durationMs, errors, invalidInput: inputErrors.length, resync: force };
    if (errors.length) log.warn(summary, 'reconcile finished with errors');
    else if ((report?.changes ?? 0) > 0 || this.o.logEveryPass) log.info(summary, 'reconciled');
    else log.debug(summary, 'reconciled');
    await this.publish(intent, vt, errors, inputErrors, snapshotAt);
    const vteps = Object.fromEntries([...Object.keys(vt.vteps).map((cn) => [cn, true] as const), ...vt.missing.map((m) => [m.clusterNetwork, false] as const)]);
    const result: PassResult = { skipped: false, report, intent, errors: [...errors, ...inputErrors], converged: this.lastOk, vteps };
    this.lastPassAt = Date.now();
    try {
      this.o.onPass?.({ ...result, durationMs });
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'onPass hook failed');
    }
    return result;
  }

  /**
   * A pass that stopped before the dataplane (`stage` could not be read or computed): nothing is applied,
   * the agent is not ready, the reason is logged, counted (onPass `held`) and published.
   */
  private async held(stage: HeldStage, message: string, inputErrors: string[]): Promise<PassResult> {
    const { node, mode, source, log } = this.o;
    log.error({ stage, err: message }, 'pass stopped before the dataplane');
    this.lastOk = false;
    this.lastErrors = [message];
    const result: PassResult = { skipped: false, held: stage, errors: [message, ...inputErrors], converged: false };
    // Published once per distinct reason: a held pass repeats every resync, its status need not.
    const statuses = this.heldPublished === message ? [] : source.current().snapshot.statuses.filter((x) => x.status.node === node);
    this.heldPublished = message;
    for (const p of statuses) {
      const prev = p.status;
      try {
        await source.publishStatus(statusObject({
          node, clusterNetwork: prev.clusterNetwork, vtepIP: prev.vtepIP, mode, ready: false, message: message.slice(0, 500), at: new Date(),
          invalidInputs: inputErrors, previous: prev.conditions, modeNote: this.o.modeNote,
          ...(stage === 'uplink' ? { vtepProblem: message } : {}),
        }));
      } catch (err) {
        log.warn({ clusterNetwork: prev.clusterNetwork, err: (err as Error).message }, 'status publish failed');
      }
    }
    try {
      this.o.onPass?.({ ...result, durationMs: 0 });
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'onPass hook failed');
    }
    return result;
  }

  private async publish(
    intent: NodeIntent,
    vt: VtepResult,
    errors: string[],
    inputErrors: string[],
    at: Date,
  ): Promise<void> {
    const { node, mode, source, log } = this.o;
    const published = source.current().snapshot.statuses;
    const cns = new Set<string>([...Object.keys(vt.vteps), ...vt.missing.map((m) => m.clusterNetwork), ...intent.clusterNetworks.map((c) => c.name)]);
    for (const cn of cns) {
      const nets = intent.clusterNetworks.find((c) => c.name === cn)?.networks.length ?? 0;
      const message = errors.length
        ? errors.join('; ').slice(0, 500)
        : `${nets} network(s) programmed${inputErrors.length ? `; ${inputErrors.length} invalid input object(s) ignored` : ''}`;
      try {
        const previous = published.find((p) => p.status.node === node && p.status.clusterNetwork === cn)?.status.conditions;
        const vtepProblem = vt.missing.find((m) => m.clusterNetwork === cn)?.reason;
        // A VTEP that can no longer be read is held (the intent kept the published one): peers keep tunnelling
        // here and VtepReady says why, rather than the node leaving the mesh on a transient uplink problem.
        const vtepIP = vt.vteps[cn] ?? intent.clusterNetworks.find((c) => c.name === cn)?.localVtep;
        await source.publishStatus(statusObject({
          node, clusterNetwork: cn, vtepIP, mode, ready: errors.length === 0, message, at,
          vtepProblem, vtepReason: vt.missing.find((m) => m.clusterNetwork === cn)?.code, invalidInputs: inputErrors, previous, modeNote: this.o.modeNote,
        }));
      } catch (err) {
        log.warn({ clusterNetwork: cn, err: (err as Error).message }, 'status publish failed');
      }
    }
  }
}
