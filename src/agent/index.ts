/**
 * `vxmesh agent`: wires a source, a dataplane and the reconcile loop of one node.
 */
import type { Logger } from 'pino';
import type { DataplaneOptions, ModeRequest } from '../dataplane/dataplane.js';
import type { Source } from './source.js';
import { preflight } from './preflight.js';
import { watchLinks } from './link-watch.js';
import { modeNote, selectDataplane } from './mode.js';
import { retireOtherMode } from './leftovers.js';
import { ReconcileLoop, type LoopOptions } from './loop.js';
import { PeerProber } from './peer-probe.js';
import { agentMetrics, startHealthServer, type HealthServer } from '../metrics/index.js';

export { selectDataplane, probeMode, createDataplane, loadDataplaneModule, bpfImpossible, modeNote, TEST_FAIL_PROBE_ENV } from './mode.js';
export { planUplink, type UplinkPlan, type UplinkFacts } from './uplink-plan.js';
export { ReconcileLoop, type LoopOptions, type PassResult } from './loop.js';
export type { Source, SourceState } from './source.js';
export { localVteps, selectsNode } from './vtep.js';
export { statusObject } from './status.js';
export { PeerProber, type PeerReport } from './peer-probe.js';

export interface AgentOptions {
  node: string;
  source: Source;
  mode: ModeRequest;
  bpffs?: string;
  netns?: string;
  /** Default 10 s. */
  resyncMs?: number;
  log: Logger;
  /** Called after every pass that reached the dataplane. */
  onPass?: LoopOptions['onPass'];
  /** Also export the Node.js process metrics (the CLI does; in-process test agents need not). */
  processMetrics?: boolean;
  /** Interval of the peer VTEP probe (agent/peer-probe.ts); 0 turns it off. Default 10 s. */
  peerProbeIntervalMs?: number;
}

export interface RunningAgent {
  loop: ReconcileLoop;
  mode: 'kernel' | 'bpf';
  /** A pass reached the dataplane and the latest one converged (/readyz). */
  ready(): boolean;
  /** Why not ready (the /readyz 503 body); undefined when ready. */
  notReadyReason(): string | undefined;
  /** This agent's Prometheus metrics, with the BPF counters and the source's invalid objects read now (/metrics). */
  metrics(): Promise<string>;
  /** Stops the loop and releases handles; the dataplane stays as it is. */
  stop(): Promise<void>;
}

function dataplaneOptions(o: AgentOptions): DataplaneOptions {
  return { node: o.node, bpffs: o.bpffs, netns: o.netns, log: o.log };
}

/** Starts the loop; returns once the first pass has been scheduled. */
export async function startAgent(o: AgentOptions): Promise<RunningAgent> {
  const warning = preflight();
  if (warning) o.log.warn({}, warning);
  const dpOpts = dataplaneOptions(o);
  const selected = await selectDataplane(o.mode, dpOpts);
  const { dataplane, mode } = selected;
  o.log.info({ mode, requested: o.mode }, 'agent starting');
  await retireOtherMode(mode, dpOpts, o.log);
  const metrics = agentMetrics({ processMetrics: o.processMetrics });
  const probeMs = o.peerProbeIntervalMs ?? 10_000;
  const prober = probeMs > 0 ? new PeerProber({ intervalMs: probeMs, netns: o.netns, log: o.log, onReport: (r) => metrics.recordPeers(r) }) : undefined;
  const onPass: LoopOptions['onPass'] = (r) => {
    metrics.recordPass({ durationMs: r.durationMs, converged: r.converged, entries: r.report?.entries, held: r.held, refusedEntries: r.report?.refused, vteps: r.vteps });
    // A held pass has no intent: the peers probed stay those of the last one computed.
    if (r.intent) prober?.update(r.intent);
    o.onPass?.(r);
  };
  const loop = new ReconcileLoop({
    node: o.node, source: o.source, dataplane, mode, log: o.log, resyncMs: o.resyncMs ?? 10_000, netns: o.netns, onPass,
    modeNote: modeNote(o.mode, selected),
  });
  await o.source.start(() => loop.kick());
  prober?.start();
  loop.start();
  // A port plugged into (or leaving) a vxmesh bridge: program it now (the fast lane, then a forced pass:
  // the intent may be unchanged).
  const links = watchLinks({ netns: o.netns, log: o.log, onPortChange: () => loop.portsChanged() });
  return {
    loop,
    mode,
    ready: () => loop.ready,
    notReadyReason: () => loop.notReadyReason,
    metrics: async () => metrics.render({
      ready: loop.ready, invalidObjects: o.source.current().errors.length, packets: await dataplane.counters(), eventsLost: await dataplane.eventsLost?.(),
      sourceReadErrors: o.source.current().readErrors,
    }),
    async stop() {
      links.close();
      await loop.stop();
      prober?.stop();
      await o.source.close();
      await dataplane.close();
    },
  };
}

/** Serves a running agent's /healthz, /readyz and /metrics (the CLI's --health-port; tests use port 0). */
export function serveAgentHealth(agent: RunningAgent, o: { port: number; host?: string }): Promise<HealthServer> {
  return startHealthServer({ ...o, ready: () => agent.ready(), notReadyReason: () => agent.notReadyReason(), metrics: () => agent.metrics() });
}

/** `--once`: one full pass; resolves to the errors found (empty = success). */
export async function runOnce(o: AgentOptions): Promise<string[]> {
  const dpOpts = dataplaneOptions(o);
  const selected = await selectDataplane(o.mode, dpOpts);
  const { dataplane, mode } = selected;
  await retireOtherMode(mode, dpOpts, o.log);
  const loop = new ReconcileLoop({ node: o.node, source: o.source, dataplane, mode, log: o.log, resyncMs: 0, netns: o.netns, logEveryPass: true, modeNote: modeNote(o.mode, selected) });
  await o.source.start(() => {});
  try {
    const r = await loop.pass(true);
    return r.errors;
  } finally {
    await o.source.close();
    await dataplane.close();
  }
}

/** `--cleanup`: removes everything vxmesh created on this node (both modes). */
export async function cleanupNode(o: Omit<AgentOptions, 'source'>): Promise<void> {
  const dpOpts = dataplaneOptions(o as AgentOptions);
  const { dataplane, mode } = await selectDataplane(o.mode, dpOpts);
  await retireOtherMode(mode, dpOpts, o.log);
  await dataplane.cleanup();
  await dataplane.close();
  o.log.info({ mode }, 'dataplane removed');
}
