/**
 * Plain REST calls to the real API server with a kubeconfig's credentials (client certificate or
 * token), returning the HTTP status and the decoded body: what tests of admission and RBAC assert on
 * (422 Invalid with its causes, 403 Forbidden with its message), with dry-run where nothing should stay.
 */
import { request } from 'node:https';
import type { RequestOptions } from 'node:https';
import { loadKubeConfig } from '../../src/k8s/client.js';

export interface ApiAnswer {
  code: number;
  /** The object, or a metav1.Status for errors. */
  body: any;
}

/** The message and causes of a Status, as one string (what `kubectl` prints). */
export function statusText(a: ApiAnswer): string {
  const causes = (a.body?.details?.causes ?? []) as Array<{ field?: string; message?: string }>;
  return [a.body?.message ?? '', ...causes.map((c) => `${c.field ?? ''}: ${c.message ?? ''}`)].join('\n');
}

export type ApiCall = (method: string, path: string, body?: unknown) => Promise<ApiAnswer>;

export function apiCaller(kubeconfigYaml: string): ApiCall {
  const kc = loadKubeConfig({ kubeconfigYaml });
  const server = new URL(kc.getCurrentCluster()!.server);
  return async (method, path, body) => {
    const opts: RequestOptions = { method, hostname: server.hostname, port: server.port, path, headers: {} };
    await kc.applyToHTTPSOptions(opts);
    const data = body === undefined ? undefined : JSON.stringify(body);
    if (data) Object.assign(opts.headers!, { 'content-type': method === 'PATCH' ? 'application/merge-patch+json' : 'application/json', 'content-length': Buffer.byteLength(data) });
    return new Promise<ApiAnswer>((resolve, reject) => {
      const req = request(opts, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let parsed: unknown = text;
          try { parsed = JSON.parse(text); } catch { /* not JSON (watch streams are read elsewhere) */ }
          resolve({ code: res.statusCode ?? 0, body: parsed });
        });
      });
      req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
      req.on('error', reject);
      if (data) req.write(data);
      req.end();
    });
  };
}

/** REST path of an object (or its collection when name is undefined), optionally a subresource. */
export function objectPath(apiVersion: string, plural: string, opts: { namespace?: string; name?: string; subresource?: string } = {}): string {
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  const ns = opts.namespace ? `/namespaces/${opts.namespace}` : '';
  return `${base}${ns}/${plural}${opts.name ? `/${opts.name}` : ''}${opts.subresource ? `/${opts.subresource}` : ''}`;
}
