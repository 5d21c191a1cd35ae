import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { KubeClient, loadKubeConfig, type KObject } from '../../src/k8s/client.js';
import { RESOURCES, type ResourceRef } from '../../src/k8s/resources.js';
import { parseDocuments } from '../../src/sources/validate.js';
import { startApiServer, type ApiServerDouble } from '../../src/testing/apiserver/index.js';

export const quietLog = pino({ level: process.env.VXMESH_TEST_LOG ?? 'silent' });

export async function startDouble(opts: { bookmarkMs?: number } = {}): Promise<{ api: ApiServerDouble; client: KubeClient }> {
  const api = await startApiServer({ bookmarkMs: opts.bookmarkMs ?? 200 });
  return { api, client: new KubeClient(loadKubeConfig({ kubeconfigYaml: api.kubeconfig() })) };
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
