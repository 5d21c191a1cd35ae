import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { pino } from 'pino';
import { apiErrorCode, KubeClient, loadKubeConfig, type KObject } from '../../src/k8s/client.js';
import { RESOURCES, type ResourceRef } from '../../src/k8s/resources.js';
import { parseDocuments } from '../../src/sources/validate.js';
import { apiServerArgs, freePort, type AuditEvent, type ControlPlane } from '../../src/controlplane/control-plane.js';
import { httpsCall } from '../../src/controlplane/https.js';
import { isAlive, stopPid } from '../../src/lab/processes.js';
import { startTestControlPlane } from '../helpers/control-plane.js';

export const quietLog = pino({ level: process.env.VXMESH_TEST_LOG ?? 'silent' });

const DEPLOY = new URL('../../deploy/', import.meta.url).pathname;
const DEPLOY_CRDS = `${DEPLOY}crds/`;

/** The ServiceAccounts of deploy/ (rbac-agent.yaml, rbac-controller.yaml). */
export type VxmeshServiceAccount = 'vxmesh-agent' | 'vxmesh-controller';

export interface Kube {
  cp: ControlPlane;
  /** Admin client (system:masters). */
  client: KubeClient;
  kubeconfigYaml: string;
  /** `kubectl --kubeconfig <admin> …`, the real kubectl; returns stdout, throws with stderr. */
  kubectl(...args: string[]): string;
  /** `kubectl apply -k deploy/` for real: namespace, CRDs, ServiceAccounts, RBAC, admission policy, workloads (which nothing runs here). */
  applyDeploy(): void;
  /** A kubeconfig for ServiceAccount vxmesh-system/<name> with a TokenRequest token: deploy/'s RBAC, nothing more (applyDeploy first). */
  serviceAccountKubeconfig(name: VxmeshServiceAccount, namespace?: string): Promise<string>;
  /**
   * Another kube-apiserver on the same etcd (an HA control plane's second member), for changes made while
   * the first one is down. Stopped by stop() at the latest.
   */
  secondApiServer(): Promise<SecondApiServer>;
  stop(): Promise<void>;
}

export interface SecondApiServer {
  url: string;
  /** Admin client of this API server. */
  client: KubeClient;
  stop(): Promise<void>;
}

export interface KubeOptions {
  /** kube-apiserver's audit log (cp.auditEvents(), auditOf()). */
  audit?: boolean;
  /**
   * kube-apiserver's --min-request-timeout in seconds: it ends each watch that asked for no timeout after
   * a random 1–2× this (default 1800). A few seconds makes every watch end cleanly, again and again.
   */
  watchTimeoutS?: number;
  extraApiServerArgs?: string[];
}

/**
 * Watches end at once when kube-apiserver is told to stop, instead of holding its shutdown until it is
 * killed (10 s later): a test restarting the API server under running informers takes ~3 s, not 13.
 */
const FAST_SHUTDOWN = ['--shutdown-watch-termination-grace-period=2s'];

/**
 * A real control plane (etcd + kube-apiserver) with vxmesh's CRDs from deploy/crds applied by the real
 * kubectl and Established. Start one per test file (a few seconds) and isolate tests by namespace:
 * namespaces are never finalized here (no kube-controller-manager).
 */
export async function startKube(opts: KubeOptions = {}): Promise<Kube> {
  const extraApiServerArgs = [...FAST_SHUTDOWN, ...(opts.watchTimeoutS ? [`--min-request-timeout=${opts.watchTimeoutS}`] : []), ...(opts.extraApiServerArgs ?? [])];
  const cp = await startTestControlPlane({ audit: opts.audit, extraApiServerArgs });
  const kubectl = (...args: string[]) => execFileSync('kubectl', ['--kubeconfig', cp.kubeconfigPath, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    kubectl('apply', '-f', DEPLOY_CRDS);
    kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all');
  } catch (err) {
    await cp.stop();
    throw err;
  }
  const kubeconfigYaml = cp.adminKubeconfig();
  const seconds: SecondApiServer[] = [];
  return {
    cp, client: new KubeClient(loadKubeConfig({ kubeconfigYaml })), kubeconfigYaml, kubectl,
    applyDeploy: () => void kubectl('apply', '-k', DEPLOY),
    serviceAccountKubeconfig: async (name, namespace = 'vxmesh-system') => cp.tokenKubeconfig(await cp.serviceAccountToken(namespace, name), `system:serviceaccount:${namespace}:${name}`),
    async secondApiServer() {
      const s = await startSecondApiServer(cp);
      seconds.push(s);
      return s;
    },
    async stop() {
      for (const s of seconds.splice(0)) await s.stop();
      await cp.stop();
    },
  };
}

/**
 * kube-apiserver started again with the control plane's own flags on another port (same etcd, certificates
 * and service-account keys). It runs as a child of this test process with a parent-death signal, so it
 * does not outlive a test process that dies (the control-plane sweep only knows the first API server).
 */
async function startSecondApiServer(cp: ControlPlane): Promise<SecondApiServer> {
  const port = await freePort();
  const argv = apiServerArgs({ ...cp.state, apiPort: port, audit: false });
  const logFile = path.join(cp.state.dir, 'logs', `apiserver-${port}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', ...argv], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const pid = child.pid;
  const url = `https://127.0.0.1:${port}`;
  const stop = async () => stopPid(pid, 10_000);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if ((await httpsCall(`${url}/readyz`, { ca: cp.caPem }, 'GET', undefined, 2000).catch(() => undefined))?.status === 200) break;
    if (!isAlive(pid) || Date.now() > deadline) {
      await stop();
      throw new Error(`second kube-apiserver on port ${port} not ready (see ${logFile}): ${readFileSync(logFile, 'utf8').trim().split('\n').slice(-5).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, client: new KubeClient(loadKubeConfig({ kubeconfigYaml: cp.adminKubeconfig(url) })), stop };
}

/** The completed requests of the audit log that match (stage ResponseComplete: one line per request). */
export function auditOf(cp: ControlPlane, match: (e: AuditEvent) => boolean): AuditEvent[] {
  return cp.auditEvents().filter((e) => (e as AuditEvent & { stage?: string }).stage === 'ResponseComplete' && match(e));
}

/** The Events of a namespace, as `kubectl get events` shows them. */
export async function eventsIn(client: KubeClient, namespace: string): Promise<KObject[]> {
  const list = await client.kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace });
  return JSON.parse(JSON.stringify(list.items)) as KObject[];
}

/** Creates namespace `name` unless it exists (the real server refuses objects in a missing namespace). */
export async function ensureNamespace(client: KubeClient, name: string): Promise<void> {
  await client.create(RESOURCES.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }).catch((err) => {
    if (apiErrorCode(err) !== 409) throw err;
  });
}

const byKind = new Map<string, ResourceRef>(Object.values(RESOURCES).map((r) => [r.kind, r]));

export function resourceOf(kind: string): ResourceRef {
  const r = byKind.get(kind);
  if (!r) throw new Error(`no resource for kind ${kind}`);
  return r;
}

/** Creates every object of a YAML fixture through the real client (status written through /status where needed). */
export async function applyFixture(client: KubeClient, file: string): Promise<void> {
  const { docs } = parseDocuments(readFileSync(file, 'utf8'), file);
  for (const d of docs as KObject[]) await createObject(client, d);
}

export async function createObject(client: KubeClient, d: KObject): Promise<KObject> {
  const res = resourceOf(d.kind!);
  if (res.namespaced) await ensureNamespace(client, d.metadata.namespace ?? 'default');
  const body = { ...d, metadata: { ...d.metadata, ...(res.namespaced ? { namespace: d.metadata.namespace ?? 'default' } : {}) } };
  const created = await client.create(res, body);
  if (d.status !== undefined && created.status === undefined) return client.replaceStatus(res, { ...created, status: d.status });
  return created;
}

export function vmi(name: string, ns: string, network: string, mac: string, node: string, extra: Record<string, unknown> = {}): KObject {
  return {
    apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance',
    metadata: { name, namespace: ns, ...extra },
    spec: { domain: { devices: { interfaces: [{ name: 'nic1', bridge: {}, macAddress: mac }] } }, networks: [{ name: 'nic1', multus: { networkName: network } }] },
    status: { nodeName: node },
  };
}

export async function until<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
