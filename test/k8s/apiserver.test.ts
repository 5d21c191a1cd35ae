/**
 * The real API server (kube-apiserver + etcd), spoken to by vxmesh's client: what the agent and the
 * controller rely on — optimistic concurrency, the status subresource, watches with bookmarks, 410 Gone,
 * leases — checked for real, with kube-apiserver's audit log as the record of what the client sent.
 */
import { CoordinationV1Api, Watch } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiErrorCode, type KObject } from '../../src/k8s/client.js';
import { RESOURCES } from '../../src/k8s/resources.js';
import { microTime } from '../../src/controller/leader.js';
import { auditOf, createObject, ensureNamespace, startKube, until, type Kube } from './helpers.js';

let kube: Kube;
beforeAll(async () => {
  kube = await startKube({ audit: true, upstreamCrds: false });
});
afterAll(async () => kube?.stop());

const network = (namespace: string, name: string, vni: number) => ({
  apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanNetwork', metadata: { name, namespace },
  spec: { clusterNetwork: 'overlay', vni, cidr: '10.0.0.0/24' },
});
const errorOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);
const NETWORKS = '/apis/network.vxmesh.io/v1alpha1/vxlannetworks';

describe('the real API server, spoken to by vxmesh\'s client', () => {
  it('refuses a stale update with 409 Conflict, a duplicate create with 409 AlreadyExists, an update without resourceVersion with 422', async () => {
    const { client } = kube;
    await ensureNamespace(client, 'occ');
    const created = await client.create(RESOURCES.vxlanNetworks, network('occ', 'n1', 1));
    expect(created.metadata).toMatchObject({ generation: 1, namespace: 'occ' });
    const updated = await client.replace(RESOURCES.vxlanNetworks, { ...created, spec: { ...created.spec, mtu: 1400 } });
    expect(updated.metadata.generation).toBe(2);
    const stale = await errorOf(client.replace(RESOURCES.vxlanNetworks, { ...created, spec: { ...created.spec, mtu: 1300 } }));
    expect(apiErrorCode(stale)).toBe(409);
    expect(apiErrorCode(await errorOf(client.create(RESOURCES.vxlanNetworks, network('occ', 'n1', 1))))).toBe(409);
    expect(apiErrorCode(await errorOf(client.replace(RESOURCES.vxlanNetworks, network('occ', 'n1', 1))))).toBe(422);
    // The stored object is the fresh update's (positive control: the same update at the current version works).
    expect((await client.get(RESOURCES.vxlanNetworks, 'n1', 'occ'))!.spec.mtu).toBe(1400);
    expect((await client.replace(RESOURCES.vxlanNetworks, { ...updated, spec: { ...updated.spec, mtu: 1300 } })).spec.mtu).toBe(1300);
    // A real server also refuses an object in a namespace that does not exist.
    expect(apiErrorCode(await errorOf(client.create(RESOURCES.vxlanNetworks, network('occ-missing', 'n1', 1))))).toBe(404);
  });

  it('keeps status and spec apart when the status subresource is enabled', async () => {
    const { client, cp } = kube;
    await ensureNamespace(client, 'sub');
    const created = await client.create(RESOURCES.vxlanNetworks, { ...network('sub', 'n1', 2), status: { allocatedIPs: 3 } });
    expect(created.status).toBeUndefined();
    const withStatus = await client.replaceStatus(RESOURCES.vxlanNetworks, { ...created, spec: { ...created.spec, mtu: 1300 }, status: { allocatedIPs: 1 } });
    expect(withStatus.spec.mtu).toBeUndefined();
    expect(withStatus.status).toEqual({ allocatedIPs: 1 });
    expect(withStatus.metadata.generation).toBe(1);
    const specOnly = await client.replace(RESOURCES.vxlanNetworks, { ...withStatus, spec: { ...withStatus.spec, mtu: 1300 }, status: { allocatedIPs: 5 } });
    expect(specOnly.spec.mtu).toBe(1300);
    expect(specOnly.status).toEqual({ allocatedIPs: 1 });
    expect(specOnly.metadata.generation).toBe(2);
    // What the client sent, as the API server recorded it: one update of the status subresource, one of the object.
    const writes = auditOf(cp, (e) => e.objectRef?.namespace === 'sub' && e.objectRef.name === 'n1' && e.verb === 'update');
    expect(writes.map((e) => `${e.objectRef!.subresource ?? ''} ${e.responseStatus?.code}`)).toEqual(['status 200', ' 200']);
  });

  it('applies kubectl\'s merge patches and JSON patches, and refuses a patch that changes the immutable VNI', async () => {
    const { client, kubectl } = kube;
    await createObject(client, { ...network('patch', 'n1', 3), spec: { ...network('patch', 'n1', 3).spec, mtu: 1400 } });
    kubectl('patch', 'vxn', 'n1', '-n', 'patch', '--type=merge', '-p', JSON.stringify({ spec: { natOutgoing: false, mtu: null } }));
    const merged = (await client.get(RESOURCES.vxlanNetworks, 'n1', 'patch'))!;
    expect(merged.spec).toMatchObject({ clusterNetwork: 'overlay', vni: 3, natOutgoing: false });
    expect(merged.spec.mtu).toBeUndefined();
    kubectl('patch', 'vxn', 'n1', '-n', 'patch', '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/leaseTime', value: 600 }]));
    expect((await client.get(RESOURCES.vxlanNetworks, 'n1', 'patch'))!.spec.leaseTime).toBe(600);
    expect(() => kubectl('patch', 'vxn', 'n1', '-n', 'patch', '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/vni', value: 7 }]))).toThrow(/spec.vni: Invalid value: "object": is immutable/);
    expect((await client.get(RESOURCES.vxlanNetworks, 'n1', 'patch'))!.spec.vni).toBe(3);
  });

  it('streams watch events in order with bookmarks; after compaction and a restart an old resourceVersion is a 410 ERROR event', async () => {
    const { client, cp } = kube;
    await ensureNamespace(client, 'watch');
    const first = await client.create(RESOURCES.vxlanNetworks, network('watch', 'w1', 11));
    const events: Array<[string, KObject]> = [];
    let ended = false;
    // A watch with a deadline gets a bookmark from the watch cache two seconds before it.
    const req = await new Watch(client.kc).watch(NETWORKS, { resourceVersion: first.metadata.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 3 },
      (type, obj) => events.push([type, obj]), () => (ended = true));
    const w2 = await client.create(RESOURCES.vxlanNetworks, network('watch', 'w2', 12));
    await client.delete(RESOURCES.vxlanNetworks, 'w1', 'watch');
    await until('the bookmark', () => events.some(([t]) => t === 'BOOKMARK'), 10_000);
    expect(events.filter(([t]) => t !== 'BOOKMARK').map(([t, o]) => `${t} ${o.metadata.name}`)).toEqual(['ADDED w2', 'DELETED w1']);
    const bookmark = events.find(([t]) => t === 'BOOKMARK')![1];
    expect(Number(bookmark.metadata.resourceVersion)).toBeGreaterThanOrEqual(Number(w2.metadata.resourceVersion));
    await until('the watch ends at its deadline', () => ended, 10_000);
    req.abort();

    // etcd compacted: the watch cache still serves a resourceVersion inside its window…
    await cp.compactEtcd();
    const cached = await watchFrom(first.metadata.resourceVersion);
    expect(cached.map((e) => `${e.type} ${e.object.metadata?.name}`)).toEqual(['ADDED w2', 'DELETED w1']);
    // …a restarted API server has no history before its start: 410 Expired, as an ERROR event.
    await cp.restartApiServer();
    const gone = await watchFrom(first.metadata.resourceVersion);
    expect(gone).toEqual([{ type: 'ERROR', object: expect.objectContaining({ kind: 'Status', code: 410, reason: 'Expired' }) }]);
    // Positive control: a watch from a current resourceVersion works on the restarted server.
    const now = (await client.list(RESOURCES.vxlanNetworks, 'watch')).metadata!.resourceVersion!;
    const fresh = watchFrom(now, 1500);
    await client.create(RESOURCES.vxlanNetworks, network('watch', 'w3', 13));
    expect((await fresh).map((e) => `${e.type} ${e.object.metadata?.name}`)).toEqual(['ADDED w3']);
  });

  it('serves leases (coordination.k8s.io) with MicroTime and optimistic concurrency, and namespaced lists; a missing object is undefined', async () => {
    const { client } = kube;
    // What the leader election writes: vxmesh's client, renewTime as MicroTime (six fractional digits).
    const body = { metadata: { name: 'l1', namespace: 'kube-system' }, spec: { holderIdentity: 'me', renewTime: microTime(), leaseDurationSeconds: 1 } };
    const l = await client.create(RESOURCES.leases, body);
    expect(l.spec.renewTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    const typed = client.kc.makeApiClient(CoordinationV1Api);
    const got = await typed.readNamespacedLease({ namespace: 'kube-system', name: 'l1' });
    expect(got.spec?.holderIdentity).toBe('me');
    expect(new Date(String(got.spec?.renewTime)).getTime()).toBe(new Date(l.spec.renewTime).getTime());
    // The real server refuses a millisecond timestamp, which client-node's typed Lease API sends for a Date
    // (the reason leader.ts formats MicroTime itself).
    const typedWrite = await errorOf(typed.createNamespacedLease({ namespace: 'kube-system', body: { metadata: { name: 'l2' }, spec: { holderIdentity: 'me', renewTime: new Date() } } }));
    expect(apiErrorCode(typedWrite)).toBe(400);
    expect(String((typedWrite as { body?: unknown }).body)).toContain('cannot parse');
    await client.replace(RESOURCES.leases, { ...l, spec: { ...l.spec, holderIdentity: 'you' } });
    expect(apiErrorCode(await errorOf(client.replace(RESOURCES.leases, { ...l, spec: { ...l.spec, holderIdentity: 'me-again' } })))).toBe(409);
    expect((await client.get(RESOURCES.leases, 'l1', 'kube-system'))!.spec.holderIdentity).toBe('you');

    await createObject(client, network('list-a', 'n1', 21));
    await createObject(client, network('list-b', 'n2', 22));
    expect((await client.list(RESOURCES.vxlanNetworks, 'list-b')).items.map((n) => n.metadata.name)).toEqual(['n2']);
    const all = (await client.list(RESOURCES.vxlanNetworks)).items.map((n) => `${n.metadata.namespace}/${n.metadata.name}`);
    expect(all).toEqual(expect.arrayContaining(['list-a/n1', 'list-b/n2']));
    expect(await client.get(RESOURCES.vxlanNetworks, 'nope', 'list-a')).toBeUndefined();
  });
});

/** Watch events for `ms` from resourceVersion `rv` (retrying while a restarted server answers 429 until its caches are ready). */
async function watchFrom(rv: string, ms = 1000): Promise<Array<{ type: string; object: KObject }>> {
  for (let attempt = 0; ; attempt++) {
    const events: Array<{ type: string; object: KObject }> = [];
    let failure: unknown;
    let ended = false;
    const req = await new Watch(kube.client.kc).watch(NETWORKS, { resourceVersion: rv }, (type, object) => events.push({ type, object }), (err) => {
      failure = err;
      ended = true;
    });
    const deadline = Date.now() + ms;
    while (!ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    req.abort();
    if (!/Too Many Requests/.test(String(failure)) || attempt > 100) return events;
    await new Promise((r) => setTimeout(r, 100));
  }
}
