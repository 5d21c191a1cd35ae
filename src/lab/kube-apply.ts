/**
 * Writing objects into the lab's API server the way a user's `kubectl apply --server-side` does (a field
 * manager of its own, so a later apply removes only what it set itself), and installing vxmesh the way the
 * README's `helm install vxmesh deploy/chart -n vxmesh-system --create-namespace` (then the namespace labelled
 * privileged) does: the namespace as deploy/namespace.yaml declares it (name and pod-security labels; helm
 * renders none), then what the pinned real helm renders with `helm template vxmesh deploy/chart --namespace
 * vxmesh-system --include-crds` (src/deploy/chart.ts), applied server-side by the real kubectl as the admin:
 * the CRDs first, waited for until Established, then the rest. deploy/'s kustomize files (`kubectl apply -k
 * deploy/`) are generated from the same chart; test/unit/lab-kube.test.ts holds the two renderings to the
 * same objects.
 *
 * The workloads (the agent DaemonSet, the controller Deployment) are left out: without
 * kube-controller-manager and kubelets nothing would ever run them, and the lab runs the agent and the
 * controller itself, as processes with those ServiceAccounts' tokens.
 */
import { readFileSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import path from 'node:path';
import YAML from 'yaml';
import type { KubeConfig } from '@kubernetes/client-node';
import { helmTemplate } from '../deploy/chart.js';
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

/** Kinds of the chart the lab does not apply: workloads nothing would run here (see above). */
export const WORKLOAD_KINDS = new Set(['DaemonSet', 'Deployment']);

/** `Kind namespace/name` for messages. */
export const describe = (o: KObject) => `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

/** Pure: the chart's (or deploy/'s) rendered objects split into what the lab applies and the workloads it leaves out. */
export function splitDeploy(docs: KObject[]): { apply: KObject[]; skipped: KObject[] } {
  return { apply: docs.filter((d) => !WORKLOAD_KINDS.has(d.kind ?? '')), skipped: docs.filter((d) => WORKLOAD_KINDS.has(d.kind ?? '')) };
}

function parsed(text: string, origin: string): KObject[] {
  const r = parseDocuments(text, origin);
  if (r.errors.length) throw new KubeApplyError(r.errors[0]!.message);
  return r.docs as KObject[];
}

/** deploy/ as `kubectl kustomize` renders it (what `kubectl apply -k deploy/` would send). */
export async function renderKustomize(repo: string): Promise<KObject[]> {
  const dir = path.join(repo, 'deploy');
  return parsed((await run(['kubectl', 'kustomize', dir])).stdout, `kubectl kustomize ${dir}`);
}

/** deploy/namespace.yaml: the namespace vxmesh installs into, with its pod-security labels. */
export function deployNamespace(repo: string): KObject {
  const file = path.join(repo, 'deploy', 'namespace.yaml');
  const docs = parsed(readFileSync(file, 'utf8'), file);
  if (docs.length !== 1 || docs[0]!.kind !== 'Namespace') throw new KubeApplyError(`${file}: expected one Namespace, found ${docs.map(describe).join(', ') || 'nothing'}`);
  return docs[0]!;
}

/** What the lab installs, in its order (the namespace, the CRDs, the rest), and the workloads it leaves out. */
export interface ChartInstall {
  /** The helm command that rendered the chart, as a user would type it. */
  command: string;
  namespace: KObject;
  crds: KObject[];
  rest: KObject[];
  skipped: KObject[];
}

/** deploy/chart rendered by the real helm with its default values, CRDs included, into deploy/namespace.yaml's namespace. */
export function planChartInstall(repo: string): ChartInstall {
  const namespace = deployNamespace(repo);
  const command = `helm template vxmesh deploy/chart --namespace ${namespace.metadata.name} --include-crds`;
  const rendered = parsed(helmTemplate({ chart: path.join(repo, 'deploy', 'chart'), namespace: namespace.metadata.name, includeCrds: true }), command);
  const { apply, skipped } = splitDeploy(rendered);
  const isCrd = (o: KObject) => o.kind === 'CustomResourceDefinition';
  return { command, namespace, crds: apply.filter(isCrd), rest: apply.filter((o) => !isCrd(o)), skipped };
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
 * The chart installed into the lab's API server, minus the workloads (planChartInstall), with the real
 * kubectl (server-side, as the admin of `kubeconfig`): namespace vxmesh-system with its pod-security labels,
 * vxmesh's CRDs (then waited for until Established), ServiceAccounts, RBAC, admission policy. Returns what
 * it installed.
 */
export async function applyDeploy(kubeconfig: string, repo: string): Promise<ChartInstall> {
  const plan = planChartInstall(repo);
  const kubectl = (args: string[], input?: string, timeoutMs?: number) => run(['kubectl', '--kubeconfig', kubeconfig, ...args], { input, allowFailure: true, timeoutMs });
  const apply = async (objects: KObject[], what: string) => {
    const r = await kubectl(['apply', '--server-side', '--field-manager=vxmesh-lab', '-f', '-'], objects.map((o) => YAML.stringify(o)).join('---\n'));
    if (r.exitCode !== 0) throw new KubeApplyError(`kubectl apply of ${what} failed: ${r.stderr.trim()}`);
  };
  await apply([plan.namespace, ...plan.crds], `deploy/namespace.yaml and the CRDs of ${plan.command}`);
  const w = await kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...plan.crds.map((o) => `crd/${o.metadata.name}`)], undefined, 70_000);
  if (w.exitCode !== 0) throw new KubeApplyError(`the chart's CRDs did not become Established: ${w.stderr.trim()}`);
  await apply(plan.rest, plan.command);
  return plan;
}
