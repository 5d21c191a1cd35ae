/**
 * A resilient informer: client-node's ListWatch (list, then watch from the list's resourceVersion; a 410
 * Gone makes it relist) plus what ListWatch leaves to its caller — restarting with exponential backoff
 * after an error (watch broken, API server down). The cache keeps the last objects meanwhile, so whoever
 * reads it keeps working from the last known state. Event callbacks only mark dirty.
 */
import { ListWatch, Watch, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { errorMessage, type KObject, type KubeClient } from './client.js';
import { apiVersionOf, collectionPath, type ResourceRef } from './resources.js';

export interface InformerOptions {
  client: KubeClient;
  resource: ResourceRef;
  log: Logger;
  onChange: () => void;
  /** Backoff bounds after errors (defaults 250 ms .. 10 s). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** The resource may not be served (its CRD not installed): a 404 counts as synced and empty, and is retried. */
  optional?: boolean;
}

export interface Informer {
  readonly resource: ResourceRef;
  /** Resolves after the first successful list (retrying with backoff until then). */
  start(): Promise<void>;
  stop(): void;
  /** Cached objects in wire form with apiVersion and kind set. */
  list(): KObject[];
  get(name: string, namespace?: string): KObject | undefined;
  /** False between an error and the next successful list or watch event. */
  healthy(): boolean;
  stats(): { lists: number; errors: number; restarts: number };
}

export function createInformer(o: InformerOptions): Informer {
  const res = o.resource;
  const log = o.log.child({ resource: res.plural });
  const min = o.minBackoffMs ?? 250;
  const max = o.maxBackoffMs ?? 10_000;
  let backoff = min;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let ok = false;
  let lastErrorAt = 0;
  const stats = { lists: 0, errors: 0, restarts: 0 };
  let synced!: () => void;
  const firstSync = new Promise<void>((resolve) => (synced = resolve));

  const listFn = async () => {
    let l: Awaited<ReturnType<KubeClient['list']>>;
    try {
      l = await o.client.list(res);
    } catch (err) {
      // An optional kind whose CRD is missing: start with none of them rather than never becoming ready.
      if (o.optional && ((err as { code?: number }).code === 404 || /404/.test(errorMessage(err)))) setImmediate(synced);
      throw err;
    }
    stats.lists++;
    ok = true;
    // ListWatch fills its cache in the continuation of this promise; signal after that.
    setImmediate(synced);
    return l as unknown as { metadata?: { resourceVersion?: string }; items: KubernetesObject[] };
  };
  // Ask for bookmarks (they keep the resourceVersion fresh, so a reconnect rarely needs a relist) and
  // count any received line or a successful connect as healthy.
  const watch = new Watch(o.client.kc);
  const watchOnce = watch.watch.bind(watch);
  watch.watch = async (path, params, cb, done) => {
    let failed = false;
    const req = await watchOnce(path, { ...params, allowWatchBookmarks: true }, (type, obj, raw) => {
      ok = true;
      cb(type, obj, raw);
    }, (err) => {
      failed = Boolean(err);
      done(err);
    });
    if (!failed) ok = true;
    return req;
  };
  const lw = new ListWatch<KubernetesObject>(collectionPath(res), watch, listFn as any, false);
  const changed = () => {
    ok = true;
    o.onChange();
  };
  lw.on('add', changed);
  lw.on('update', changed);
  lw.on('delete', changed);
  lw.on('error', (err: unknown) => {
    stats.errors++;
    ok = false;
    if (stopped) return;
    const now = Date.now();
    if (now - lastErrorAt > 30_000) backoff = min;
    lastErrorAt = now;
    const delay = Math.round(backoff * (0.8 + Math.random() * 0.4));
    backoff = Math.min(max, backoff * 2);
    log.warn({ err: errorMessage(err), retryMs: delay }, 'watch failed, reconnecting');
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (stopped) return;
      stats.restarts++;
      void lw.start();
    }, delay);
  });

  const withKind = (obj: KubernetesObject): KObject => ({ apiVersion: apiVersionOf(res), kind: res.kind, ...(obj as KObject) });

  return {
    resource: res,
    async start() {
      stopped = false;
      void lw.start();
      await firstSync;
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      void lw.stop();
    },
    list: () => lw.list().map(withKind),
    get(name, namespace) {
      const obj = lw.get(name, namespace);
      return obj ? withKind(obj) : undefined;
    },
    healthy: () => ok,
    stats: () => ({ ...stats }),
  };
}
