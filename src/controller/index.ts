/**
 * The vxmesh controller (`vxmesh controller`): one active replica, elected through a Lease, keeps
 * NetworkAttachmentDefinitions, IP allocations (with their claims) and VxlanNetwork status in line with
 * the cluster. Level-triggered: informer events only mark dirty; one loop runs passes (debounced, plus a
 * periodic resync), and after writing waits until its own caches show the writes before the next pass,
 * so it never decides from a view older than its own actions.
 *
 *   const c = await runController({ log });   // kubeconfig from --kubeconfig, $KUBECONFIG or in-cluster
 *   await c.stop();                           // releases the lease
 */
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { errorMessage, KubeClient, loadKubeConfig, type KubeClientOptions } from '../k8s/client.js';
import { createInformer, type Informer } from '../k8s/informer.js';
import { RESOURCES } from '../k8s/resources.js';
import type { LastGood } from '../sources/validate.js';
import { addressPools, controllerMetrics, startHealthServer, type HealthServer } from '../metrics/index.js';
import { startLeaderElection, type LeaderElector } from './leader.js';
import { reconcilePass, type PassContext, type PassResult, type Written } from './reconcile.js';

export interface ControllerOptions extends KubeClientOptions {
  log: Logger;
  /** Leader-election identity (default: $POD_NAME or the hostname). */
  identity?: string;
  /** Namespace of the Lease (default: $POD_NAMESPACE or vxmesh-system). */
  namespace?: string;
  leaseName?: string;
  /** false: act without electing (single replica, tests). */
  leaderElection?: boolean;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  resyncMs?: number;
  debounceMs?: number;
  claimGraceMs?: number;
  concurrency?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Serve /healthz, /readyz and /metrics on this port (default: $VXMESH_HEALTH_PORT, else none). */
  healthPort?: number;
}

export interface Controller {
  isLeader(): boolean;
  /** Runs a pass now (when leading) and resolves after it. */
  reconcileNow(): Promise<void>;
  /** Resolves when no pass is running or pending. */
  idle(): Promise<void>;
  stats(): { passes: number; lastPass?: PassResult['counts']; lastError?: string };
  /** The port /healthz, /readyz and /metrics are served on (when asked for; 0 picks one). */
  healthPort?: number;
  stop(): Promise<void>;
}

export async function runController(opts: ControllerOptions): Promise<Controller> {
  const identity = opts.identity ?? process.env.POD_NAME ?? hostname();
  const log = opts.log.child({ component: 'controller', identity });
  const client = new KubeClient(loadKubeConfig(opts));
  let dirty = false;
  let leading = false;
  let running: Promise<void> | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let recheck: NodeJS.Timeout | undefined;
  let stopped = false;
  let lastGood: LastGood = new Map();
  const reported = new Set<string>();
  const stats: { passes: number; lastPass?: PassResult['counts']; lastError?: string } = { passes: 0 };

  const trigger = (delay = opts.debounceMs ?? 20) => {
    dirty = true;
    if (!leading || stopped || running || debounce) return;
    debounce = setTimeout(() => {
      debounce = undefined;
      void loop();
    }, delay);
  };
  const inf = (resource: (typeof RESOURCES)[keyof typeof RESOURCES]) =>
    createInformer({ client, resource, log, onChange: () => trigger(), minBackoffMs: opts.minBackoffMs, maxBackoffMs: opts.maxBackoffMs });
  const caches: PassContext['caches'] = {
    clusterNetworks: inf(RESOURCES.clusterNetworks), vxlanConfigs: inf(RESOURCES.vxlanConfigs), vxlanNetworks: inf(RESOURCES.vxlanNetworks),
    vmis: inf(RESOURCES.vmis), vms: inf(RESOURCES.vms), allocations: inf(RESOURCES.allocations), claims: inf(RESOURCES.claims), nads: inf(RESOURCES.nads),
  };
  const byResource = new Map<unknown, Informer>(Object.values(caches).map((i) => [i.resource, i]));

  async function loop(): Promise<void> {
    if (running) return running;
    running = (async () => {
      while (dirty && leading && !stopped) {
        dirty = false;
        try {
          const t0 = Date.now();
          const r = await reconcilePass({ client, caches, log, identity, lastGood, reported, claimGraceMs: opts.claimGraceMs ?? 30_000, concurrency: opts.concurrency ?? 16 });
          lastGood = r.lastGood;
          stats.passes++;
          stats.lastPass = r.counts;
          if (r.written.length) log.debug({ ...r.counts, durationMs: Date.now() - t0 }, 'controller pass wrote changes');
          await caughtUp(r.written);
          if (r.retry) setTimeout(() => trigger(), 200).unref();
          if (r.recheckInMs !== undefined) {
            clearTimeout(recheck);
            recheck = setTimeout(() => trigger(), r.recheckInMs);
            recheck.unref();
          }
        } catch (err) {
          stats.lastError = errorMessage(err);
          log.error({ err: stats.lastError }, 'controller pass failed');
          setTimeout(() => trigger(), 1000).unref();
        }
      }
    })().finally(() => {
      running = undefined;
    });
    return running;
  }

  /** Waits (bounded) until the informers show every write of the pass. */
  async function caughtUp(written: Written[]): Promise<void> {
    const deadline = Date.now() + 5000;
    const pending = written.filter((w) => byResource.has(w.resource));
    while (pending.length && Date.now() < deadline && !stopped) {
      for (let i = pending.length - 1; i >= 0; i--) {
        const w = pending[i]!;
        const o = byResource.get(w.resource)!.get(w.name, w.namespace);
        // Deleted: gone from the cache. Written: that version or a later one, or gone if someone deleted it since.
        const seen = w.rv === undefined ? !o : o ? o.metadata.resourceVersion === w.rv || Number(o.metadata.resourceVersion) > Number(w.rv) : Boolean(w.existed);
        if (seen) pending.splice(i, 1);
      }
      if (pending.length) await new Promise((r) => setTimeout(r, 10));
    }
    if (written.length) dirty = true; // one more pass over the fresh view (a no-op when all is done)
  }

  log.info({}, 'controller starting');
  await Promise.all(Object.values(caches).map((i) => i.start()));
  log.info({}, 'controller caches synced');
  const resync = setInterval(() => trigger(), opts.resyncMs ?? 30_000);
  resync.unref();

  const start = () => {
    leading = true;
    trigger(0);
  };
  const halt = () => {
    leading = false;
  };
  const healthPort = opts.healthPort ?? (process.env.VXMESH_HEALTH_PORT ? Number(process.env.VXMESH_HEALTH_PORT) : undefined);
  let health: HealthServer | undefined;
  if (healthPort !== undefined) {
    const metrics = controllerMetrics(() => ({ passes: stats.passes, leading, lastPassWrites: stats.lastPass ?? {},
      addressPools: addressPools(caches.vxlanNetworks.list(), caches.allocations.list()) }));
    health = await startHealthServer({ port: healthPort, ready: () => !stopped, live: () => !stopped, metrics: () => metrics.render() });
  }
  let elector: LeaderElector | undefined;
  if (opts.leaderElection === false) start();
  else {
    elector = startLeaderElection({
      client, identity, log, namespace: opts.namespace ?? process.env.POD_NAMESPACE ?? 'vxmesh-system', name: opts.leaseName ?? 'vxmesh-controller',
      leaseDurationMs: opts.leaseDurationMs, renewDeadlineMs: opts.renewDeadlineMs, retryPeriodMs: opts.retryPeriodMs,
      onStartedLeading: start, onStoppedLeading: halt,
    });
  }

  return {
    isLeader: () => leading,
    async reconcileNow() {
      dirty = true;
      await running;
      await loop();
    },
    async idle() {
      for (;;) {
        await running;
        if (!debounce && !running && (!dirty || !leading)) return;
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    stats: () => ({ ...stats }),
    ...(health ? { healthPort: health.port } : {}),
    async stop() {
      stopped = true;
      clearInterval(resync);
      clearTimeout(debounce);
      clearTimeout(recheck);
      await running;
      await elector?.stop();
      leading = false;
      for (const i of Object.values(caches)) i.stop();
      await health?.close();
      log.info({}, 'controller stopped');
    },
  };
}
