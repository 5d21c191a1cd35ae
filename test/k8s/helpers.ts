import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { apiErrorCode, KubeClient, loadKubeConfig, type KObject } from '../../src/k8s/client.js';
import { RESOURCES, type ResourceRef } from '../../src/k8s/resources.js';
import { parseDocuments } from '../../src/sources/validate.js';
import { startApiServer, type ApiServerDouble } from '../../src/testing/apiserver/index.js';
import { execFileSync } from 'node:child_process';
import type { ControlPlane } from '../../src/controlplane/control-plane.js';
import { startTestControlPlane } from '../helpers/control-plane.js';

export const quietLog = pino({ level: process.env.VXMESH_TEST_LOG ?? 'silent' });

export async function startDouble(opts: { bookmarkMs?: number } = {}): Promise<{ api: ApiServerDouble; client: KubeClient }> {
  const api = await startApiServer({ bookmarkMs: opts.bookmarkMs ?? 200 });
  return { api, client: new KubeClient(loadKubeConfig({ kubeconfigYaml: api.kubeconfig() })) };
}

const DEPLOY = new URL('../../deploy/', import.meta.url).pathname;
const DEPLOY_CRDS = `${DEPLOY}crds/`;

export interface Kube {
  cp: ControlPlane;
  /** Admin client (system:masters). */
  client: KubeClient;
  kubeconfigYaml: string;
  /** `kubectl --kubeconfig <admin> …`, the real kubectl; returns stdout, throws with stderr. */
  kubectl(...args: string[]): string;
  /** `kubectl apply -k deploy/` for real: namespace, CRDs, ServiceAccounts, RBAC, admission policy, workloads (which nothing runs here). */
  applyDeploy(): void;
  /** A kubeconfig for ServiceAccount vxmesh-system/<name> (vxmesh-agent, vxmesh-controller) with a TokenRequest token: deploy/'s RBAC, nothing more. */
  serviceAccountKubeconfig(name: string, namespace?: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * A real control plane (etcd + kube-apiserver) with vxmesh's CRDs from deploy/crds applied by the real
 * kubectl and Established. Start one per test file (a few seconds) and isolate tests by namespace:
 * namespaces are never finalized here (no kube-controller-manager).
 */
export async function startKube(opts: { audit?: boolean } = {}): Promise<Kube> {
  const cp = await startTestControlPlane(opts);
  const kubectl = (...args: string[]) => execFileSync('kubectl', ['--kubeconfig', cp.kubeconfigPath, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    kubectl('apply', '-f', DEPLOY_CRDS);
    kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all');
  } catch (err) {
    await cp.stop();
    throw err;
  }
  const kubeconfigYaml = cp.adminKubeconfig();
  return {
    cp, client: new KubeClient(loadKubeConfig({ kubeconfigYaml })), kubeconfigYaml, kubectl, stop: () => cp.stop(),
    applyDeploy: () => void kubectl('apply', '-k', DEPLOY),
    serviceAccountKubeconfig: async (name, namespace = 'vxmesh-system') => cp.tokenKubeconfig(await cp.serviceAccountToken(namespace, name), `system:serviceaccount:${namespace}:${name}`),
  };
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
