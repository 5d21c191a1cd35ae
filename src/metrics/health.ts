/**
 * The agent's HTTP endpoints (port 9440 in the DaemonSet): /healthz (the process is alive and its loop is
 * not stuck), /readyz (first reconcile done, source synced) and /metrics (Prometheus text format).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HealthServerOptions {
  port: number;
  /** Default 0.0.0.0 (hostNetwork pods are probed on the node address). */
  host?: string;
  ready(): boolean | Promise<boolean>;
  /** Why not ready, printed after `not ready: ` in the 503 body (default: nothing more). */
  notReadyReason?(): string | undefined;
  /** Default: always alive. */
  live?(): boolean | Promise<boolean>;
  metrics(): string | Promise<string>;
}

export interface HealthServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startHealthServer(o: HealthServerOptions): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const text = (code: number, body: string, type = 'text/plain; charset=utf-8') =>
      res.writeHead(code, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) }).end(body);
    (async () => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return text(405, 'method not allowed\n');
      if (path === '/healthz' || path === '/livez') return (await (o.live?.() ?? true)) ? text(200, 'ok\n') : text(500, 'not alive\n');
      if (path === '/readyz') {
        if (await o.ready()) return text(200, 'ok\n');
        const why = o.notReadyReason?.();
        return text(503, why ? `not ready: ${why}\n` : 'not ready\n');
      }
      if (path === '/metrics') return text(200, await o.metrics(), 'text/plain; version=0.0.4; charset=utf-8');
      return text(404, 'not found\n');
    })().catch((err) => text(500, `${(err as Error).message}\n`));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host ?? '0.0.0.0', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
