import { afterEach, describe, expect, it } from 'vitest';
import type { KubeClient } from '../../src/k8s/client.js';
import { RESOURCES } from '../../src/k8s/resources.js';
import { createKubernetesSource, type KubernetesSource } from '../../src/sources/kubernetes/index.js';
import { DEFAULT_RESOURCES, type ApiServerDouble } from '../../src/testing/apiserver/index.js';
import { applyFixture, createObject, quietLog, startDouble, until, vmi } from './helpers.js';

const FIXTURE = new URL('../fixtures/two-tenants.yaml', import.meta.url).pathname;
let api: ApiServerDouble;
let client: KubeClient;
let source: KubernetesSource | undefined;

async function setup(): Promise<KubernetesSource> {
  ({ api, client } = await startDouble());
  await applyFixture(client, FIXTURE);
  source = createKubernetesSource({ kubeconfigYaml: api.kubeconfig(), node: 'node1', log: quietLog, minBackoffMs: 50, maxBackoffMs: 400 });
  let changes = 0;
  await source.start(() => changes++);
  return source;
}

const vmNames = (s: KubernetesSource) => s.current().snapshot.vmis.map((v) => v.metadata.name);

afterEach(async () => {
  await source?.close();
  source = undefined;
  await api?.close();
});

describe('kubernetes source', () => {
  it('serves the cluster objects as a validated snapshot and follows changes', async () => {
    const s = await setup();
    const { snapshot, errors } = s.current();
    expect(errors).toEqual([]);
    expect(snapshot.vxlanNetworks.map((n) => `${n.metadata.namespace}/${n.metadata.name}:${n.spec.vni}`)).toEqual(['tenant-a/blue:100', 'tenant-b/red:200']);
    expect(vmNames(s)).toEqual(['a1', 'a2', 'b1']);
    expect(snapshot.statuses.map((x) => x.status.vtepIP)).toEqual(['198.18.0.11', '198.18.0.12', '198.18.0.13']);
    const gen = s.current().generation;
    await createObject(client, vmi('a3', 'tenant-a', 'blue', '02:00:00:0a:00:03', 'node3'));
    await until('a3 in snapshot', () => vmNames(s).includes('a3'));
    expect(s.current().generation).toBeGreaterThan(gen);
  });

  it('reports an invalid object by name and field and keeps its last good version', async () => {
    const s = await setup();
    const red = (await client.get(RESOURCES.vxlanNetworks, 'red', 'tenant-b'))!;
    await client.replace(RESOURCES.vxlanNetworks, { ...red, spec: { ...red.spec, vni: 100 } });
    await until('error reported', () => s.current().errors.length > 0);
    expect(s.current().errors[0]!.message).toContain('VxlanNetwork tenant-b/red: spec.vni 100 is already in use (VNIs are unique across the cluster');
    expect(s.current().snapshot.vxlanNetworks.find((n) => n.metadata.name === 'red')!.spec.vni).toBe(200);
  });

  it('reconnects after the watches break and sees later changes', async () => {
    const s = await setup();
    const watches = s.informers().length;
    await until('every informer watching', () => api.watchCount() === watches);
    api.breakWatches();
    expect(api.watchCount()).toBe(0);
    await createObject(client, vmi('a3', 'tenant-a', 'blue', '02:00:00:0a:00:03', 'node3'));
    await until('watches back', () => api.watchCount() === watches);
    await until('a3 seen', () => vmNames(s).includes('a3'));
    // A clean end of a watch resumes from the last resourceVersion: no relist needed.
    expect(s.informers().every((i) => i.stats().lists === 1)).toBe(true);
  });

  it('keeps its last snapshot while the API server is down and catches up after a restart', async () => {
    const s = await setup();
    const before = s.current();
    const restarted = api.restart({ keepState: true, downMs: 800 });
    await new Promise((r) => setTimeout(r, 400));
    expect(s.current().snapshot).toEqual(before.snapshot);
    expect(s.connected()).toBe(false);
    await restarted;
    await createObject(client, vmi('a3', 'tenant-a', 'blue', '02:00:00:0a:00:03', 'node3'));
    await until('a3 seen after restart', () => vmNames(s).includes('a3'), 10_000);
    await until('connected again', () => s.connected());
  });

  it('relists on 410 Gone and drops objects deleted while it was not watching', async () => {
    const s = await setup();
    const lists = () => api.requests.filter((r) => !r.watch && r.method === 'GET' && r.path.endsWith('/virtualmachineinstances')).length;
    const listsBefore = lists();
    await api.stop();
    // While the source is disconnected: a VMI goes away, another appears, and history is compacted.
    const vmis = DEFAULT_RESOURCES.find((r) => r.plural === 'virtualmachineinstances')!;
    api.store.delete(vmis, 'tenant-a', 'a2');
    api.store.create(vmis, vmi('a3', 'tenant-a', 'blue', '02:00:00:0a:00:03', 'node3'));
    api.compact();
    await api.start();
    await until('relisted', () => lists() > listsBefore, 10_000);
    await until('a2 gone and a3 present', () => !vmNames(s).includes('a2') && vmNames(s).includes('a3'), 10_000);
    const gone = api.requests.filter((r) => r.watch && r.path.endsWith('/virtualmachineinstances'));
    expect(gone.length).toBeGreaterThan(1);
  });

  it('publishes its VxlanStatus through the status subresource', async () => {
    const s = await setup();
    const status = { apiVersion: 'network.vxmesh.io/v1alpha1' as const, kind: 'VxlanStatus' as const, metadata: { name: 'overlay.node4' }, status: { clusterNetwork: 'overlay', node: 'node4', vtepIP: '198.18.0.14', mode: 'kernel' as const, ready: true } };
    await s.publishStatus(status);
    const got = await client.get(RESOURCES.statuses, 'overlay.node4');
    expect(got!.status).toEqual(status.status);
    await s.publishStatus({ ...status, status: { ...status.status, mode: 'bpf' } });
    expect((await client.get(RESOURCES.statuses, 'overlay.node4'))!.status.mode).toBe('bpf');
    await until('status in the snapshot', () => s.current().snapshot.statuses.find((x) => x.status.node === 'node4')?.status.mode === 'bpf');
  });
});

describe('kubernetes source change detection', () => {
  it('does not report a change when only a status heartbeat (lastReconcile) moves', async () => {
    ({ api, client } = await startDouble());
    await applyFixture(client, FIXTURE);
    const s = createKubernetesSource({ kubeconfigYaml: api.kubeconfig(), node: 'node1', log: quietLog });
    source = s;
    let changes = 0;
    await s.start(() => changes++);
    const base = { apiVersion: 'network.vxmesh.io/v1alpha1' as const, kind: 'VxlanStatus' as const, metadata: { name: 'overlay.node1' }, status: { clusterNetwork: 'overlay', node: 'node1', vtepIP: '198.18.0.11', ready: true } };
    await s.publishStatus({ ...base, status: { ...base.status, lastReconcile: '2026-01-01T00:00:00Z' } });
    await until('first heartbeat seen', () => changes === 1);
    await s.publishStatus({ ...base, status: { ...base.status, lastReconcile: '2026-01-01T00:00:05Z' } });
    await until('second heartbeat in the snapshot', () => s.current().snapshot.statuses.find((x) => x.status.node === 'node1')?.status.lastReconcile === '2026-01-01T00:00:05Z');
    expect(changes).toBe(1);
    await s.publishStatus({ ...base, status: { ...base.status, vtepIP: '198.18.0.99' } });
    await until('VTEP change reported', () => changes === 2);
  });
});
