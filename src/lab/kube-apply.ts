/**
 * Writing objects into the lab's API server the way a user's `kubectl apply --server-side` does (a field
 * manager of its own, so a later apply removes only what it set itself), and what `kubectl apply -k
 * deploy/` puts into a cluster: deploy/ rendered by the real kustomize (`kubectl kustomize`), applied by
 * the real kubectl as the admin, CustomResourceDefinitions waited for until Established.
 *
 * The workloads in deploy/ (the agent DaemonSet, the controller Deployment) are left out: without
 * kube-controller-manager and kubelets nothing would ever run them, and the lab runs the agent and the
 * controller itself, as processes with those ServiceAccounts' tokens.
 */
import { request, type RequestOptions } from 'node:https';
import path from 'node:path';
import YAML from 'yaml';
import type { KubeConfig } from '@kubernetes/client-node';
import { VxmeshError } from '../errors.js';
import { KubeClient, apiErrorCode, errorMessage, type KObject } from '../k8s/client.js';
import { collectionPath, type ResourceRef } from '../k8s/resources.js';
import { parseDocuments } from '../sources/validate.js';
import { run } from '../util/exec.js';
import { sleep } from './processes.js';

export class KubeApplyError extends VxmeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('KUBE_APPLY', message, options);
  }
}

/** Kinds of deploy/ the lab does not apply: workloads nothing would run here (see above). */
export const WORKLOAD_KINDS = new Set(['DaemonSet', 'Deployment']);

/** `Kind namespace/name` for messages. */
export const describe = (o: KObject) => `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

/** Pure: deploy/'s rendered objects split into what the lab applies and the workloads it leaves out. */
export function splitDeploy(docs: KObject[]): { apply: KObject[]; skipped: KObject[] } {
  return { apply: docs.filter((d) => !WORKLOAD_KINDS.has(d.kind ?? '')), skipped: docs.filter((d) => WORKLOAD_KINDS.has(d.kind ?? '')) };
}

/** deploy/ as `kubectl kustomize` renders it (what `kubectl apply -k` would send). */
export async function renderDeploy(repo: string): Promise<KObject[]> {
  const dir = path.join(repo, 'deploy');
  const r = await run(['kubectl', 'kustomize', dir]);
  const parsed = parseDocuments(r.stdout, `kubectl kustomize ${dir}`);
  if (parsed.errors.length) throw new KubeApplyError(parsed.errors[0]!.message);
  return parsed.docs as KObject[];
}

/**
 * Server-side apply (`kubectl apply --server-side --force-conflicts --field-manager=<manager>`) of each
 * object, in order, at its resource's path. The object goes to the server exactly as given: a typed client
 * would re-serialize known kinds through its models and silently drop what they lack.
 */
export function serverSideApply(kc: KubeConfig, manager: string): (items: Array<{ res: ResourceRef; object: KObject }>) => Promise<void> {
  const server = kc.getCurrentCluster()!.server;
  return async (items) => {
    for (const { res, object } of items) {
      const url = new URL(`${server}${collectionPath(res, object.metadata.namespace)}/${encodeURIComponent(object.metadata.name)}`);
      url.searchParams.set('fieldManager', manager);
      url.searchParams.set('force', 'true');
      const r = await httpsRequest(kc, url, 'PATCH', 'application/apply-patch+yaml', JSON.stringify(object));
      if (r.status !== 200 && r.status !== 201) {
        let why = r.body.slice(0, 300);
        try {
          why = (JSON.parse(r.body) as { message?: string }).message ?? why;
        } catch { /* not a Status */ }
        throw new KubeApplyError(`${describe(object)}: the lab's API server refused it: HTTP ${r.status}: ${why}`);
      }
    }
  };
}

async function httpsRequest(kc: KubeConfig, url: URL, method: string, contentType: string, body: string): Promise<{ status: number; body: string }> {
  const opts: RequestOptions = { method, headers: { 'content-type': contentType, accept: 'application/json' } };
  await kc.applyToHTTPSOptions(opts);
  return new Promise((resolve, reject) => {
    const req = request(url, { ...opts, timeout: 30_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname}: no answer in 30 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Waits until every resource answers a list: for a moment after its CRD is Established, kube-apiserver
 * answers 429 "storage is (re)initializing" while the watch cache fills (client-go retries that; the lab's
 * first reads should not have to).
 */
export async function waitServed(kc: KubeConfig, refs: readonly ResourceRef[], timeoutMs = 30_000): Promise<void> {
  const client = new KubeClient(kc);
  const deadline = Date.now() + timeoutMs;
  for (const res of refs) {
    for (;;) {
      try {
        await client.list(res);
        break;
      } catch (err) {
        if (apiErrorCode(err) !== 429 || Date.now() > deadline) throw new KubeApplyError(`${res.plural}.${res.group || 'core'} is not served: ${errorMessage(err)}`, { cause: err });
        await sleep(100);
      }
    }
  }
}

/**
 * `kubectl apply -k deploy/` into the lab's API server, minus the workloads, with the real kubectl
 * (server-side, as the admin of `kubeconfig`): namespace vxmesh-system, vxmesh's CRDs (then waited for
 * until Established), ServiceAccounts, RBAC, admission policy. Returns the workloads it left out.
 */
export async function applyDeploy(kubeconfig: string, repo: string): Promise<KObject[]> {
  const { apply, skipped } = splitDeploy(await renderDeploy(repo));
  const r = await run(['kubectl', '--kubeconfig', kubeconfig, 'apply', '--server-side', '--field-manager=vxmesh-lab', '-f', '-'], { input: apply.map((o) => YAML.stringify(o)).join('---\n'), allowFailure: true });
  if (r.exitCode !== 0) throw new KubeApplyError(`kubectl apply of deploy/ failed: ${r.stderr.trim()}`);
  const crds = apply.filter((o) => o.kind === 'CustomResourceDefinition').map((o) => `crd/${o.metadata.name}`);
  const w = await run(['kubectl', '--kubeconfig', kubeconfig, 'wait', '--for=condition=Established', '--timeout=60s', ...crds], { allowFailure: true, timeoutMs: 70_000 });
  if (w.exitCode !== 0) throw new KubeApplyError(`deploy/'s CRDs did not become Established: ${w.stderr.trim()}`);
  return skipped;
}
