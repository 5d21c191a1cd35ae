/**
 * An in-process Kubernetes API-server double over plain HTTP (node:http, no framework). It speaks the
 * REST protocol the real @kubernetes/client-node uses — list, watch (chunked JSON events, bookmarks,
 * 410 Gone), get/create/update/patch/delete, the status subresource — for the resources in
 * resources.ts, and has controls tests need: restart (keep or reset state), breakWatches(), compact().
 * There is no authentication, admission or CRD schema validation.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { create, get, list, patch, remove, update, type Reply } from './handlers.js';
import { discovery } from './discovery.js';
import { DEFAULT_RESOURCES, parsePath, type ResourceDef } from './resources.js';
import { fieldMatcher, labelMatcher } from './selectors.js';
import { Store, StoreError, type K8sObject } from './store.js';
import { toTable, wantsTable } from './table.js';
import { serveWatch } from './watch.js';

export interface ApiServerOptions {
  host?: string;
  /** 0 (default) picks a free port; a restart keeps the port. */
  port?: number;
  resources?: ResourceDef[];
  /** Interval of BOOKMARK events on watches that ask for them (allowWatchBookmarks=true). */
  bookmarkMs?: number;
  maxHistory?: number;
}

export interface RequestRecord {
  method: string;
  path: string;
  watch: boolean;
  code: number;
}

export interface ApiServerDouble {
  readonly url: string;
  readonly port: number;
  readonly store: Store;
  /** Every request served, in order (tests assert relists and retries from it). */
  readonly requests: RequestRecord[];
  /** A kubeconfig (YAML) pointing at the double. */
  kubeconfig(): string;
  /** Ends every open watch cleanly (clients re-watch from their last resourceVersion). */
  breakWatches(): void;
  /** Drops watch history up to rv (default: now): later watches from older versions get 410 Gone. */
  compact(rv?: number): void;
  /** Drops every connection, stays down for downMs, then serves again on the same port. */
  restart(opts?: { keepState?: boolean; downMs?: number }): Promise<void>;
  /** Stops serving until start(); connections are dropped. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
  watchCount(): number;
}

export async function startApiServer(opts: ApiServerOptions = {}): Promise<ApiServerDouble> {
  const host = opts.host ?? '127.0.0.1';
  const resources = opts.resources ?? DEFAULT_RESOURCES;
  const store = new Store(opts.maxHistory);
  const requests: RequestRecord[] = [];
  const watches = new Set<() => void>();
  let port = opts.port ?? 0;
  let server: Server | undefined;

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err) => reply(res, statusError(500, 'InternalError', (err as Error).message)));
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    const record: RequestRecord = { method, path: url.pathname, watch: false, code: 0 };
    requests.push(record);
    if (requests.length > 20_000) requests.splice(0, requests.length - 10_000);
    const send = (r: Reply) => {
      record.code = r.code;
      reply(res, r);
    };
    if (url.pathname === '/healthz' || url.pathname === '/readyz' || url.pathname === '/livez') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
      return;
    }
    if (url.pathname === '/version') return send({ code: 200, body: { major: '1', minor: '30', gitVersion: 'v1.30.0-vxmesh-double' } });
    const p = parsePath(url.pathname, resources);
    const disc = !p && method === 'GET' ? discovery(url.pathname, resources) : undefined;
    if (disc) return send(disc);
    if (!p) return send(statusError(404, 'NotFound', 'the server could not find the requested resource'));
    const text = await readBody(req);
    try {
      const body = text ? JSON.parse(text) : undefined;
      const q = url.searchParams;
      const matches = (() => {
        const l = labelMatcher(q.get('labelSelector'));
        const f = fieldMatcher(q.get('fieldSelector'));
        return (o: any) => l(o) && f(o);
      })();
      if (method === 'GET' && !p.name && (q.get('watch') === 'true' || q.get('watch') === '1')) {
        record.watch = true;
        record.code = 200;
        const timeout = Number(q.get('timeoutSeconds') ?? 0);
        const stop = serveWatch(store, res, {
          resource: p.resource, namespace: p.namespace, matches, resourceVersion: q.get('resourceVersion') ?? '',
          bookmarks: q.get('allowWatchBookmarks') === 'true', bookmarkMs: opts.bookmarkMs ?? 1000,
          timeoutMs: timeout > 0 ? timeout * 1000 : undefined,
        });
        watches.add(stop);
        res.on('close', () => watches.delete(stop));
        return;
      }
      if (method === 'GET') {
        const r = p.name ? get(store, p) : list(store, p, matches);
        if (r.code !== 200 || !wantsTable(req.headers.accept)) return send(r);
        const body = r.body as { items?: K8sObject[]; metadata?: Record<string, unknown> } & K8sObject;
        return send({ code: 200, body: p.name ? toTable(p.resource.plural, [body]) : toTable(p.resource.plural, body.items ?? [], body.metadata) });
      }
      if (method === 'POST' && !p.name) return send(create(store, p, body));
      if (method === 'PUT' && p.name) return send(update(store, p, body));
      if (method === 'PATCH' && p.name) return send(patch(store, p, body, req.headers['content-type'] ?? ''));
      if (method === 'DELETE' && p.name) return send(remove(store, p, body));
      return send(statusError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`));
    } catch (err) {
      if (err instanceof StoreError) return send(statusError(err.code, err.reason, err.message, p.name, p.resource));
      if (err instanceof SyntaxError) return send(statusError(400, 'BadRequest', `invalid JSON: ${err.message}`));
      throw err;
    }
  }

  async function listen(): Promise<void> {
    server = createServer(handler);
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(port, host, () => resolve());
    });
    port = (server.address() as AddressInfo).port;
  }

  async function down(): Promise<void> {
    const s = server;
    server = undefined;
    if (!s) return;
    for (const stop of [...watches]) stop();
    watches.clear();
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    s.closeAllConnections();
    await closed;
  }

  await listen();
  const double: ApiServerDouble = {
    get url() {
      return `http://${host}:${port}`;
    },
    get port() {
      return port;
    },
    store,
    requests,
    kubeconfig: () => kubeconfigYaml(`http://${host}:${port}`),
    breakWatches() {
      for (const stop of [...watches]) stop();
      watches.clear();
    },
    compact: (rv) => store.compact(rv),
    async restart({ keepState = true, downMs = 0 } = {}) {
      await down();
      if (!keepState) store.reset();
      if (downMs) await new Promise((r) => setTimeout(r, downMs));
      await listen();
    },
    stop: down,
    start: listen,
    close: down,
    watchCount: () => watches.size,
  };
  return double;
}

export function kubeconfigYaml(server: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: vxmesh-double`,
    `  cluster: { server: "${server}", insecure-skip-tls-verify: true }`,
    'users:',
    '- name: vxmesh-double',
    '  user: { token: vxmesh-double }',
    'contexts:',
    '- name: vxmesh-double',
    '  context: { cluster: vxmesh-double, user: vxmesh-double }',
    'current-context: vxmesh-double',
    '',
  ].join('\n');
}

function reply(res: ServerResponse, r: Reply): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(r.body);
  res.writeHead(r.code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
}

function statusError(code: number, reason: string, message: string, name?: string, resource?: ResourceDef): Reply {
  return {
    code,
    body: {
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code,
      ...(name || resource ? { details: { ...(name ? { name } : {}), ...(resource ? { group: resource.group, kind: resource.plural } : {}) } } : {}),
    },
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
