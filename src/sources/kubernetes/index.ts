/**
 * Kubernetes source for the agent: the same objects as the file source, read from the API server.
 *
 *   const source = createKubernetesSource({ kubeconfig, node, log });   // implements agent/source.ts Source
 *   await source.start(onChange);        // resolves once every informer has listed; onChange only marks dirty
 *   source.current()                      // { snapshot, errors, generation } — validated by buildSnapshot()
 *   await source.publishStatus(status)    // create/update VxlanStatus `<clusterNetwork>.<node>` (status subresource)
 *   await source.close()
 *
 * Informers (src/k8s/informer.ts) watch Nodes, ClusterNetworks, VxlanConfigs, VxlanNetworks, KubeVirt VMIs,
 * VxlanIPAllocations, VxlanStatuses and NetworkAttachmentDefinitions. A broken watch or a restarted API
 * server is retried with backoff, a 410 Gone relists; meanwhile the caches keep the last objects, so the
 * snapshot — and the dataplane programmed from it — stays as it was. Snapshots are rebuilt from the caches
 * (debounced) with the same buildSnapshot() the file source uses, so both validate identically. With
 * `memoryFile` (the agent passes `<state dir>/.vxmesh/<node>.json`), the first-seen order and the last
 * good versions survive agent restarts, as the file source's do (sources/memory.ts).
 */
import type { Logger } from 'pino';
import type { Source, SourceState } from '../../agent/source.js';
import type { VxmeshError } from '../../errors.js';
import { emptySnapshot, type Snapshot, type VxlanStatus } from '../../model/schema.js';
import { KubeClient, loadKubeConfig, type KubeClientOptions } from '../../k8s/client.js';
import { createInformer, type Informer } from '../../k8s/informer.js';
import { RESOURCES, type ResourceRef } from '../../k8s/resources.js';
import { buildSnapshot, docId, type LastGood } from '../validate.js';
import { newFirstSeen, noteFirstSeen } from '../first-seen.js';
import { memoryWriter, readMemoryFile } from '../memory.js';
import type { PolicyStore } from '../policy-store.js';
import { writeStatus } from './status.js';

export interface KubernetesSourceOptions extends KubeClientOptions {
  node: string;
  log: Logger;
  /** Coalesces bursts of watch events into one snapshot rebuild (default 20 ms). */
  debounceMs?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Keeps the last good policies across restarts (sources/policy-store.ts); the agent passes one. */
  policyStore?: PolicyStore;
  /** Keeps the first-seen order and the last good versions across restarts (sources/memory.ts). */
  memoryFile?: string;
}

export interface KubernetesSource extends Source {
  /** Same as current(), in the shape the brief proposed. */
  snapshot(): { snapshot: Snapshot; errors: VxmeshError[] };
  /** True while every informer's last list/watch succeeded. */
  connected(): boolean;
  informers(): Informer[];
  stop(): Promise<void>;
}

const VOLATILE = new Set(['resourceVersion', 'generation', 'lastReconcile']);

/** The kinds the agent reads. */
export const AGENT_RESOURCES = [
  RESOURCES.nodes, RESOURCES.clusterNetworks, RESOURCES.vxlanConfigs, RESOURCES.vxlanNetworks,
  RESOURCES.vmis, RESOURCES.allocations, RESOURCES.statuses, RESOURCES.nads, RESOURCES.namespaces, RESOURCES.policies,
];

/** Kinds whose CRD may be missing on a cluster (no multi-networkpolicy installed): absent means none. */
const OPTIONAL = new Set<ResourceRef>([RESOURCES.policies]);

export function createKubernetesSource(opts: KubernetesSourceOptions): KubernetesSource {
  const log = opts.log.child({ component: 'source.kubernetes', node: opts.node });
  const client = new KubeClient(loadKubeConfig(opts));
  const debounceMs = opts.debounceMs ?? 20;
  let state: SourceState = { snapshot: emptySnapshot(), errors: [], generation: 0 };
  let lastGood: LastGood = opts.policyStore?.load() ?? new Map();
  let firstSeen = newFirstSeen();
  const memoryFile = opts.memoryFile;
  const kept = memoryFile
    ? memoryWriter(memoryFile, (err) => log.warn({ err: err.message, file: memoryFile }, 'cannot keep first-seen order and last good versions across restarts'))
    : undefined;
  let saving: Promise<void> = Promise.resolve();
  let lastJson = '';
  let onChange: () => void = () => {};
  let timer: NodeJS.Timeout | undefined;
  let started = false;
  let closed = false;

  const dirty = () => {
    if (!started || closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      rebuild();
    }, debounceMs);
  };
  const informers = AGENT_RESOURCES.map((resource) =>
    createInformer({ client, resource, log, onChange: dirty, minBackoffMs: opts.minBackoffMs, maxBackoffMs: opts.maxBackoffMs, optional: OPTIONAL.has(resource) }));

  function rebuild(): void {
    // A VxlanStatus is created before its status is written (status subresource): skip it until then.
    const docs = informers.flatMap((i) => i.list()).filter((d) => d.kind !== 'VxlanStatus' || d.status !== undefined);
    noteFirstSeen(firstSeen, docs.map(docId).filter((id): id is string => id !== undefined));
    const r = buildSnapshot(docs, lastGood, { firstSeen: firstSeen.rank });
    lastGood = r.lastGood;
    opts.policyStore?.save(lastGood);
    if (kept) saving = kept.save(firstSeen, lastGood);
    // What the dataplane depends on: not resourceVersions (a controller's status write bumps them) nor an
    // agent's status heartbeat (lastReconcile), which would otherwise wake every agent up again.
    const json = JSON.stringify({ s: r.snapshot, e: r.errors.map((e) => e.message) }, (k, v) => (VOLATILE.has(k) ? undefined : v));
    if (json === lastJson) {
      state = { ...state, snapshot: r.snapshot };
      return;
    }
    const previous = new Set(state.errors.map((e) => e.message));
    lastJson = json;
    state = { snapshot: r.snapshot, errors: r.errors, generation: state.generation + 1 };
    for (const e of r.errors) if (!previous.has(e.message)) log.warn({ err: e.message, code: e.code }, 'invalid object ignored, last good version kept');
    log.debug({ generation: state.generation, objects: docs.length }, 'snapshot rebuilt');
    onChange();
  }

  const close = async () => {
    closed = true;
    clearTimeout(timer);
    for (const i of informers) i.stop();
    await saving;
  };

  /** Before the first snapshot: what this agent remembered when it stopped (nothing on a new node). */
  async function restore(): Promise<void> {
    if (!memoryFile || !kept) return;
    const restored = await readMemoryFile(memoryFile);
    if (!restored) return;
    firstSeen = restored.firstSeen;
    // the policy store's versions (read above) fill what the kept file lacks
    lastGood = new Map([...lastGood, ...restored.lastGood]);
    kept.holds(restored.firstSeen, restored.lastGood);
    log.info({ file: memoryFile, objects: restored.lastGood.size, dropped: restored.dropped }, 'first-seen order and last good versions restored');
  }

  return {
    async start(cb) {
      onChange = cb;
      await restore();
      log.info({ resources: informers.length }, 'starting informers');
      await Promise.all(informers.map((i) => i.start()));
      started = true;
      rebuild();
      log.info({ generation: state.generation }, 'informers synced');
    },
    current: () => state,
    snapshot: () => ({ snapshot: state.snapshot, errors: state.errors }),
    connected: () => informers.every((i) => i.healthy()),
    informers: () => informers,
    async publishStatus(status: VxlanStatus) {
      const cached = informers.find((i) => i.resource === RESOURCES.statuses)!;
      await writeStatus(client, status, cached, log);
    },
    close,
    stop: close,
  };
}
