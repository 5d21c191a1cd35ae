/**
 * The agent's Kubernetes source against a real kube-apiserver + etcd, as the agent's ServiceAccount with
 * a token bound to a pod on its node (deploy/'s RBAC and admission policy). kube-apiserver ends every
 * watch after 2–4 s here (--min-request-timeout), so the informers resume again and again; its
 * audit log shows what the source asked for (lists, watches and from which resourceVersion).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { apiErrorCode } from '../../src/k8s/client.js';
import { RESOURCES } from '../../src/k8s/resources.js';
import { createKubernetesSource, type KubernetesSource } from '../../src/sources/kubernetes/index.js';
import { applyFixture, auditOf, createObject, quietLog, startKube, until, vmi, type AuditLine, type Kube, type SecondApiServer } from './helpers.js';

const FIXTURE = new URL('../fixtures/two-tenants.yaml', import.meta.url).pathname;
const AGENT = 'system:serviceaccount:vxmesh-system:vxmesh-agent';
/** Each watch is ended by the server after 2–4 s. */
const WATCH_TIMEOUT_S = 2;

let kube: Kube;
let agentKubeconfig: string;
let second: SecondApiServer | undefined;
let source: KubernetesSource | undefined;

beforeAll(async () => {
  kube = await startKube({ audit: true, watchTimeoutS: WATCH_TIMEOUT_S });
  await kube.applyDeploy();
  await applyFixture(kube.client, FIXTURE);
  agentKubeconfig = await kube.agentKubeconfig('node1');
});
afterEach(async () => {
  await source?.close();
  source = undefined;
});
afterAll(async () => kube?.stop());

async function startSource(onChange: () => void = () => {}): Promise<KubernetesSource> {
  source = createKubernetesSource({ kubeconfigYaml: agentKubeconfig, node: 'node1', log: quietLog, minBackoffMs: 50, maxBackoffMs: 400 });
  await source.start(onChange);
  return source;
}

/** Another API server on the same etcd: where the rest of the cluster writes while the source's one is down. */
async function secondApiServer(): Promise<SecondApiServer> {
  second ??= await kube.secondApiServer();
  return second;
}

const vmNames = (s: KubernetesSource) => s.current().snapshot.vmis.map((v) => v.metadata.name);
const vmiRequests = (verb: string, since: number) =>
  auditOf(kube.cp, (e) => e.user.username === AGENT && e.verb === verb && e.objectRef?.resource === 'virtualmachineinstances', since);
const resourceVersionOf = (e: AuditLine) => new URL(e.requestURI, 'https://x').searchParams.get('resourceVersion');

describe('kubernetes source on a real API server', () => {
  it('serves the cluster objects as a validated snapshot and follows changes', async () => {
    const s = await startSource();
    const { snapshot, errors } = s.current();
    expect(errors).toEqual([]);
    expect(snapshot.vxlanNetworks.map((n) => `${n.metadata.namespace}/${n.metadata.name}:${n.spec.vni}`)).toEqual(['tenant-a/blue:100', 'tenant-b/red:200']);
    expect(vmNames(s)).toEqual(['a1', 'a2', 'b1']);
    expect(snapshot.statuses.map((x) => x.status.vtepIP)).toEqual(['198.18.0.11', '198.18.0.12', '198.18.0.13']);
    const gen = s.current().generation;
    await createObject(kube.client, vmi('a3', 'tenant-a', 'blue', '02:00:00:0a:00:03', 'node3'));
    await until('a3 in snapshot', () => vmNames(s).includes('a3'));
    expect(s.current().generation).toBeGreaterThan(gen);
  });

  it('reports an invalid object by name and field, keeps its last good version, and takes the fixed one', async () => {
    const s = await startSource();
    // The VNI cannot be changed in place (CEL transition rule), but an MTU the uplink cannot carry is only
    // found by vxmesh's own validation.
    const red = (await kube.client.get(RESOURCES.vxlanNetworks, 'red', 'tenant-b'))!;
    const broken = await kube.client.replace(RESOURCES.vxlanNetworks, { ...red, spec: { ...red.spec, mtu: 1480 } });
    await until('error reported', () => s.current().errors.length > 0);
    expect(s.current().errors.map((e) => e.message)).toEqual(['VxlanNetwork tenant-b/red: spec.mtu 1480 does not fit the uplink MTU 1500 minus 50 bytes of VxLAN overhead; the last good version stays in force']);
    expect(s.current().snapshot.vxlanNetworks.find((n) => n.metadata.name === 'red')!.spec.mtu).toBe(1400);
    await kube.client.replace(RESOURCES.vxlanNetworks, { ...broken, spec: { ...broken.spec, mtu: 1420 } });
    await until('fixed version taken', () => s.current().snapshot.vxlanNetworks.find((n) => n.metadata.name === 'red')!.spec.mtu === 1420);
    expect(s.current().errors).toEqual([]);
  });

  it('resumes each watch the server ends from its last resourceVersion, without relisting, and sees later changes', async () => {
    const t0 = Date.now();
    const s = await startSource();
    // Every informer's watch ended by the server at least once and taken up again.
    await until('every watch ended and resumed', () => {
      const ended = auditOf(kube.cp, (e) => e.user.username === AGENT && e.verb === 'watch', t0);
      return s.informers().every((i) => ended.some((e) => e.objectRef?.resource === i.resource.plural));
    }, 3 * WATCH_TIMEOUT_S * 1000);
    await createObject(kube.client, vmi('c1', 'tenant-a', 'blue', '02:00:00:0a:00:c1', 'node3'));
    await until('c1 seen', () => vmNames(s).includes('c1'));
    expect(s.informers().map((i) => `${i.resource.plural} ${i.stats().lists}`)).toEqual(s.informers().map((i) => `${i.resource.plural} 1`));
    // What the API server saw: one list, then watches from a resourceVersion each (none from scratch).
    expect(vmiRequests('list', t0)).toHaveLength(1);
    const watches = vmiRequests('watch', t0);
    expect(watches.length).toBeGreaterThanOrEqual(1);
    expect(watches.every((w) => Number(resourceVersionOf(w)) > 0 && w.responseStatus?.code === 200)).toBe(true);
    expect(s.connected()).toBe(true);
  });

  it('keeps its last snapshot while its API server is down, and follows what changed meanwhile and after', async () => {
    const s = await startSource();
    const other = await secondApiServer();
    const before = s.current();
    await kube.cp.stopApiServer();
    try {
      await until('disconnected', () => !s.connected(), 10_000);
      // Meanwhile the rest of the cluster goes on, through the other API server.
      await createObject(other.client, vmi('d1', 'tenant-a', 'blue', '02:00:00:0a:00:d1', 'node2'));
      await new Promise((r) => setTimeout(r, 500));
      expect(s.current().snapshot).toEqual(before.snapshot);
      expect(s.current().generation).toBe(before.generation);
    } finally {
      await kube.cp.startApiServer();
    }
    await until('d1 (made while it was down) seen', () => vmNames(s).includes('d1'), 15_000);
    await until('connected again', () => s.connected(), 15_000);
    await createObject(kube.client, vmi('d2', 'tenant-a', 'blue', '02:00:00:0a:00:d2', 'node2'));
    await until('d2 (made after) seen', () => vmNames(s).includes('d2'), 10_000);
  });

  it('relists on 410 Gone and drops objects deleted while it was not watching', async () => {
    const s = await startSource();
    const other = await secondApiServer();
    const vmiInformer = s.informers().find((i) => i.resource === RESOURCES.vmis)!;
    const listsBefore = vmiInformer.stats().lists;
    expect(vmNames(s)).toContain('a2');
    await kube.cp.stopApiServer();
    const down = Date.now();
    try {
      await until('disconnected', () => !s.connected(), 10_000);
      // While the source is away: a VMI goes away, another appears, and etcd's history is compacted.
      expect(await other.client.delete(RESOURCES.vmis, 'a2', 'tenant-a')).toBe(true);
      await createObject(other.client, vmi('e1', 'tenant-a', 'blue', '02:00:00:0a:00:e1', 'node3'));
      await kube.cp.compactEtcd();
    } finally {
      await kube.cp.startApiServer();
    }
    await until('a2 gone and e1 present', () => !vmNames(s).includes('a2') && vmNames(s).includes('e1'), 15_000);
    expect(vmiInformer.stats().lists).toBeGreaterThan(listsBefore);
    // The source came back with a watch from its old resourceVersion (refused: 410 Expired, as an ERROR
    // event) and then listed again.
    const since = vmiRequests('watch', down).concat(vmiRequests('list', down)).sort((a, b) => Date.parse(a.requestReceivedTimestamp!) - Date.parse(b.requestReceivedTimestamp!));
    const firstList = since.findIndex((e) => e.verb === 'list');
    expect(firstList).toBeGreaterThan(0);
    const refusedWatch = since[firstList - 1]!;
    expect([refusedWatch.verb, refusedWatch.responseStatus?.code]).toEqual(['watch', 200]);
    expect(Number(resourceVersionOf(refusedWatch))).toBeGreaterThan(0);
  });

  it('publishes its own node\'s VxlanStatus through the status subresource, and may not publish another node\'s', async () => {
    const t0 = Date.now();
    const s = await startSource();
    const status = { apiVersion: 'network.vxmesh.io/v1alpha1' as const, kind: 'VxlanStatus' as const, metadata: { name: 'overlay.node1' }, status: { clusterNetwork: 'overlay', node: 'node1', vtepIP: '198.18.0.11', mode: 'kernel' as const, ready: true } };
    await s.publishStatus(status);
    expect((await kube.client.get(RESOURCES.statuses, 'overlay.node1'))!.status).toEqual(status.status);
    await s.publishStatus({ ...status, status: { ...status.status, mode: 'bpf' } });
    expect((await kube.client.get(RESOURCES.statuses, 'overlay.node1'))!.status.mode).toBe('bpf');
    await until('status in the snapshot', () => s.current().snapshot.statuses.find((x) => x.status.node === 'node1')?.status.mode === 'bpf');
    const writes = auditOf(kube.cp, (e) => e.user.username === AGENT && e.objectRef?.resource === 'vxlanstatuses' && e.verb !== 'watch' && e.verb !== 'list', t0);
    expect(writes.map((e) => `${e.verb} ${e.objectRef!.name}/${e.objectRef!.subresource ?? ''} ${e.responseStatus?.code}`)).toEqual(['update overlay.node1/status 200', 'update overlay.node1/status 200']);
    // Another node's status: created by nobody (the admission policy refuses this agent's token).
    const foreign = { ...status, metadata: { name: 'overlay.node4' }, status: { ...status.status, node: 'node4', vtepIP: '198.18.0.14' } };
    const refused = await s.publishStatus(foreign).then(() => undefined, (e: unknown) => e);
    expect(apiErrorCode(refused)).toBe(403);
    expect(await kube.client.get(RESOURCES.statuses, 'overlay.node4')).toBeUndefined();
  });

  it('does not report a change when only a status heartbeat (lastReconcile) moves', async () => {
    let changes = 0;
    const s = await startSource(() => changes++);
    const base = { apiVersion: 'network.vxmesh.io/v1alpha1' as const, kind: 'VxlanStatus' as const, metadata: { name: 'overlay.node1' }, status: { clusterNetwork: 'overlay', node: 'node1', vtepIP: '198.18.0.11', ready: true } };
    await s.publishStatus({ ...base, status: { ...base.status, lastReconcile: '2026-01-01T00:00:00Z' } });
    await until('first heartbeat in the snapshot', () => s.current().snapshot.statuses.find((x) => x.status.node === 'node1')?.status.lastReconcile === '2026-01-01T00:00:00Z');
    await new Promise((r) => setTimeout(r, 100)); // past the debounce
    const counted = changes;
    await s.publishStatus({ ...base, status: { ...base.status, lastReconcile: '2026-01-01T00:00:05Z' } });
    await until('second heartbeat in the snapshot', () => s.current().snapshot.statuses.find((x) => x.status.node === 'node1')?.status.lastReconcile === '2026-01-01T00:00:05Z');
    await new Promise((r) => setTimeout(r, 100));
    expect(changes).toBe(counted);
    // Positive control: a VTEP change is one.
    await s.publishStatus({ ...base, status: { ...base.status, vtepIP: '198.18.0.99' } });
    await until('VTEP change reported', () => changes === counted + 1);
  });
});
