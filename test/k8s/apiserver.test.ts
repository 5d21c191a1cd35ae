import { CoordinationV1Api, Watch } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { apiErrorCode, loadKubeConfig, type KubeClient } from '../../src/k8s/client.js';
import { RESOURCES } from '../../src/k8s/resources.js';
import type { ApiServerDouble } from '../../src/testing/apiserver/index.js';
import { createObject, startDouble, until } from './helpers.js';

let api: ApiServerDouble;
let client: KubeClient;
afterEach(async () => api?.close());

const network = (name: string, vni: number) => ({
  apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanNetwork', metadata: { name, namespace: 'ns1' },
  spec: { clusterNetwork: 'overlay', vni, cidr: '10.0.0.0/24' },
});

describe('API-server double, spoken to by the real client', () => {
  it('refuses a stale update with 409 Conflict and a duplicate create with 409 AlreadyExists', async () => {
    ({ api, client } = await startDouble());
    const created = await client.create(RESOURCES.vxlanNetworks, network('n1', 1));
    expect(created.metadata).toMatchObject({ generation: 1, namespace: 'ns1' });
    const updated = await client.replace(RESOURCES.vxlanNetworks, { ...created, spec: { ...created.spec, vni: 2 } });
    expect(updated.metadata.generation).toBe(2);
    const stale = await client.replace(RESOURCES.vxlanNetworks, { ...created, spec: { ...created.spec, vni: 3 } }).catch((e) => e);
    expect(apiErrorCode(stale)).toBe(409);
    expect(apiErrorCode(await client.create(RESOURCES.vxlanNetworks, network('n1', 1)).catch((e) => e))).toBe(409);
    expect(apiErrorCode(await client.replace(RESOURCES.vxlanNetworks, { ...network('n1', 1) }).catch((e) => e))).toBe(422);
  });

  it('keeps status and spec apart when the status subresource is enabled', async () => {
    ({ api, client } = await startDouble());
    const created = await client.create(RESOURCES.vxlanNetworks, { ...network('n1', 1), status: { conditions: [] } });
    expect(created.status).toBeUndefined();
    const withStatus = await client.replaceStatus(RESOURCES.vxlanNetworks, { ...created, spec: { ...created.spec, vni: 9 }, status: { allocatedIPs: 1 } });
    expect(withStatus.spec.vni).toBe(1);
    expect(withStatus.status).toEqual({ allocatedIPs: 1 });
    expect(withStatus.metadata.generation).toBe(1);
    const specOnly = await client.replace(RESOURCES.vxlanNetworks, { ...withStatus, status: { allocatedIPs: 5 } });
    expect(specOnly.status).toEqual({ allocatedIPs: 1 });
  });

  it('applies merge patches and JSON patches', async () => {
    ({ api, client } = await startDouble());
    await client.create(RESOURCES.vxlanNetworks, network('n1', 1));
    const merge = await fetch(`${api.url}/apis/network.vxmesh.io/v1alpha1/namespaces/ns1/vxlannetworks/n1`, {
      method: 'PATCH', headers: { 'Content-Type': 'application/merge-patch+json' }, body: JSON.stringify({ spec: { natOutgoing: false, cidr: null } }),
    });
    expect(((await merge.json()) as any).spec).toEqual({ clusterNetwork: 'overlay', vni: 1, natOutgoing: false });
    const json = await fetch(`${api.url}/apis/network.vxmesh.io/v1alpha1/namespaces/ns1/vxlannetworks/n1`, {
      method: 'PATCH', headers: { 'Content-Type': 'application/json-patch+json' }, body: JSON.stringify([{ op: 'replace', path: '/spec/vni', value: 7 }]),
    });
    expect(((await json.json()) as any).spec.vni).toBe(7);
  });

  it('streams watch events with bookmarks and answers a compacted resourceVersion with a 410 ERROR event', async () => {
    ({ api, client } = await startDouble({ bookmarkMs: 50 }));
    const first = await client.create(RESOURCES.vxlanNetworks, network('n1', 1));
    const kc = loadKubeConfig({ kubeconfigYaml: api.kubeconfig() });
    const events: Array<[string, any]> = [];
    const req = await new Watch(kc).watch('/apis/network.vxmesh.io/v1alpha1/vxlannetworks', { resourceVersion: first.metadata.resourceVersion, allowWatchBookmarks: true },
      (type, obj) => events.push([type, obj]), () => {});
    await client.create(RESOURCES.vxlanNetworks, network('n2', 2));
    await client.delete(RESOURCES.vxlanNetworks, 'n1', 'ns1');
    await until('events', () => events.some(([t]) => t === 'DELETED') && events.some(([t]) => t === 'BOOKMARK'));
    expect(events.filter(([t]) => t !== 'BOOKMARK').map(([t, o]) => `${t} ${o.metadata.name}`)).toEqual(['ADDED n2', 'DELETED n1']);
    req.abort();
    api.compact();
    const errors: any[] = [];
    let done = false;
    await new Watch(kc).watch('/apis/network.vxmesh.io/v1alpha1/vxlannetworks', { resourceVersion: first.metadata.resourceVersion }, (type, obj) => errors.push({ type, obj }), () => (done = true));
    await until('stream ended', () => done);
    expect(errors).toEqual([{ type: 'ERROR', obj: expect.objectContaining({ kind: 'Status', code: 410, reason: 'Expired' }) }]);
  });

  it('serves typed built-in APIs (leases) and namespaced lists', async () => {
    ({ api, client } = await startDouble());
    const leases = loadKubeConfig({ kubeconfigYaml: api.kubeconfig() }).makeApiClient(CoordinationV1Api);
    await leases.createNamespacedLease({ namespace: 'kube-system', body: { metadata: { name: 'l1' }, spec: { holderIdentity: 'me', renewTime: new Date() } } });
    const got = await leases.readNamespacedLease({ namespace: 'kube-system', name: 'l1' });
    expect(got.spec?.holderIdentity).toBe('me');
    expect(String(got.spec?.renewTime)).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    await createObject(client, network('n1', 1));
    await createObject(client, { ...network('n2', 2), metadata: { name: 'n2', namespace: 'ns2' } });
    expect((await client.list(RESOURCES.vxlanNetworks, 'ns2')).items.map((n) => n.metadata.name)).toEqual(['n2']);
    expect((await client.list(RESOURCES.vxlanNetworks)).items).toHaveLength(2);
    expect(await client.get(RESOURCES.vxlanNetworks, 'nope', 'ns1')).toBeUndefined();
  });
});
