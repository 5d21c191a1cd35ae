/**
 * One watch stream: a chunked HTTP response of newline-delimited JSON events. Starts with synthetic ADDED
 * events (resourceVersion unset or "0") or a replay of history after the given resourceVersion, then
 * follows the store. A resourceVersion older than the compacted history gets an ERROR event with a 410
 * Status and the stream ends, exactly what client informers expect before they relist.
 */
import type { ServerResponse } from 'node:http';
import { apiVersionOf, resourceId, type ResourceDef } from './resources.js';
import type { Matcher } from './selectors.js';
import type { K8sObject, Store, StoreEvent } from './store.js';

export interface WatchOptions {
  resource: ResourceDef;
  namespace?: string;
  matches: Matcher;
  resourceVersion: string;
  bookmarks: boolean;
  bookmarkMs: number;
  timeoutMs?: number;
}

export function serveWatch(store: Store, res: ServerResponse, o: WatchOptions): () => void {
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
  res.flushHeaders();
  const send = (type: string, object: unknown) => {
    if (!res.writableEnded) res.write(`${JSON.stringify({ type, object })}\n`);
  };
  const inScope = (obj: K8sObject) => o.namespace === undefined || obj.metadata.namespace === o.namespace;
  const deliver = (e: StoreEvent) => {
    if (!inScope(e.object)) return;
    const now = o.matches(e.object);
    const before = e.type === 'MODIFIED' && e.old ? o.matches(e.old) : now;
    if (e.type === 'MODIFIED') {
      if (now && before) send('MODIFIED', withKind(o.resource, e.object));
      else if (now) send('ADDED', withKind(o.resource, e.object));
      else if (before) send('DELETED', withKind(o.resource, e.object));
    } else if (now) send(e.type, withKind(o.resource, e.object));
  };

  const rv = o.resourceVersion;
  if (rv === '' || rv === '0') {
    for (const obj of store.list(o.resource, o.namespace)) if (o.matches(obj)) send('ADDED', withKind(o.resource, obj));
  } else {
    const n = Number(rv);
    const replay = Number.isFinite(n) ? store.since(o.resource, n) : undefined;
    if (!replay) {
      send('ERROR', {
        kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
        message: `too old resource version: ${rv} (${store.compactedRv()})`, reason: 'Expired', code: 410,
      });
      res.end();
      return () => {};
    }
    for (const e of replay) deliver(e);
  }
  const id = resourceId(o.resource);
  const unsubscribe = store.subscribe((e) => {
    if (e.resource === id) deliver(e);
  });
  const bookmark = o.bookmarks
    ? setInterval(() => send('BOOKMARK', { kind: o.resource.kind, apiVersion: apiVersionOf(o.resource), metadata: { resourceVersion: String(store.currentRv()) } }), o.bookmarkMs)
    : undefined;
  const timeout = o.timeoutMs ? setTimeout(() => res.end(), o.timeoutMs) : undefined;
  const stop = () => {
    unsubscribe();
    if (bookmark) clearInterval(bookmark);
    if (timeout) clearTimeout(timeout);
  };
  res.on('close', stop);
  return () => {
    stop();
    res.end();
  };
}

export function withKind(r: ResourceDef, obj: K8sObject): K8sObject {
  return { apiVersion: apiVersionOf(r), kind: r.kind, ...obj };
}
