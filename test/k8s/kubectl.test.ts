/**
 * What an operator types, with the real kubectl against the real API server: `kubectl apply -k deploy/` (the
 * documented install; the server validates every object against its OpenAPI schemas), and `kubectl get` of
 * vxmesh's kinds, whose columns the API server prints from each CRD's additionalPrinterColumns (JSONPath
 * filters, priority-1 columns under -o wide, ages) — the short names and the `vxmesh` category included.
 */
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VXMESH_API } from '../../src/model/schema.js';
import { RESOURCES } from '../../src/k8s/resources.js';
import { run } from '../../src/util/exec.js';
import { createObject, startKube, type Kube } from './helpers.js';

const DEPLOY = new URL('../../deploy/', import.meta.url).pathname;

let kube: Kube;
beforeAll(async () => {
  kube = await startKube({ upstreamCrds: false });
});
afterAll(async () => kube?.stop());

/** `kubectl get` output as rows of cells, cut at the columns of the header (an empty cell stays an empty string). */
function table(out: string): { header: string[]; rows: string[][] } {
  const [head, ...lines] = out.trimEnd().split('\n');
  const starts = [...head!.matchAll(/(?:^|\s{2,})(\S)/g)].map((m) => m.index! + m[0].length - 1);
  const cut = (l: string) => starts.map((s, i) => l.slice(s, starts[i + 1]).trim());
  return { header: cut(head!), rows: lines.map(cut) };
}

const liveOf = (kube: Kube, o: Record<string, any>) => JSON.parse(kube.kubectl('get', kindOf(o), o.metadata.name, '-o', 'json', ...(o.metadata.namespace ? ['-n', o.metadata.namespace] : [])));
const resourceVersions = (kube: Kube, objects: Array<Record<string, any>>) => objects.map((o) => liveOf(kube, o).metadata.resourceVersion as string);
const kindOf = (o: Record<string, any>) => `${o.kind.toLowerCase()}.${o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : ''}`.replace(/\.$/, '');

describe('kubectl apply -k deploy/', () => {
  it('creates every object kustomize renders, stores it as written, and leaves it unchanged on re-apply', async () => {
    const rendered = await run(['kubectl', 'kustomize', DEPLOY]);
    const objects = YAML.parseAllDocuments(rendered.stdout).map((d) => d.toJS() as Record<string, any>).filter(Boolean);
    expect(objects.length).toBeGreaterThanOrEqual(17);

    // startKube applied deploy/crds already: those are unchanged, everything else is created.
    const first = kube.kubectl('apply', '-k', DEPLOY).trim().split('\n');
    expect(first).toHaveLength(objects.length);
    const lineOf = (lines: string[], o: Record<string, any>) => lines.find((l) => l.startsWith(`${kindOf(o)}/${o.metadata.name} `))!;
    const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition');
    expect(crds.map((o) => lineOf(first, o))).toEqual(crds.map((o) => `${kindOf(o)}/${o.metadata.name} unchanged`));
    const others = objects.filter((o) => o.kind !== 'CustomResourceDefinition');
    expect(others.map((o) => lineOf(first, o))).toEqual(others.map((o) => `${kindOf(o)}/${o.metadata.name} created`));

    // Stored as written: `kubectl diff` (a server-side dry run of the manifests, compared with the live
    // objects, server defaults included on both sides) finds nothing.
    const diff = await run(['kubectl', '--kubeconfig', kube.cp.kubeconfigPath, 'diff', '-k', DEPLOY], { allowFailure: true });
    expect(diff.exitCode, diff.stdout + diff.stderr).toBe(0);
    expect(diff.stdout).toBe('');
    // The images transformer of the kustomization pins the release tag.
    const ds = objects.find((o) => o.kind === 'DaemonSet')!;
    expect(ds.spec.template.spec.containers[0].image).toMatch(/^ghcr\.io\/vxmesh\/vxmesh:\d+\.\d+\.\d+$/);

    // Short names, as deploy/README.md uses them.
    const short = kube.kubectl('get', 'crd,ds,deploy,vxn,vxip', '-A', '-o', 'name');
    expect(short).toContain('customresourcedefinition.apiextensions.k8s.io/vxlannetworks.network.vxmesh.io');
    expect(short).toContain('daemonset.apps/vxmesh-agent');
    expect(short).toContain('deployment.apps/vxmesh-controller');

    // Re-applying changes nothing: kubectl says so, and no object gets a new resourceVersion. (A manifest
    // carrying what the server does not store as written — `hostPID: false`, `required: []`, an admission
    // rule without its defaulted `scope` — would come out "configured" on every apply: client-side apply
    // sends that part again each time.)
    const before = resourceVersions(kube, objects);
    const again = kube.kubectl('apply', '-k', DEPLOY).trim().split('\n');
    expect(again).toEqual(objects.map((o) => `${kindOf(o)}/${o.metadata.name} unchanged`));
    expect(resourceVersions(kube, objects)).toEqual(before);
    // Positive control: a live edit is what diff then reports.
    kube.kubectl('-n', 'vxmesh-system', 'label', '--overwrite', 'serviceaccount', 'vxmesh-agent', 'app.kubernetes.io/name=edited');
    const edited = await run(['kubectl', '--kubeconfig', kube.cp.kubeconfigPath, 'diff', '-k', DEPLOY], { allowFailure: true });
    expect(edited.exitCode).toBe(1);
    expect(edited.stdout).toMatch(/^-\s+app.kubernetes.io\/name: edited$/m);
    expect(edited.stdout).toMatch(/^\+\s+app.kubernetes.io\/name: vxmesh-agent$/m);
  });
});

describe('kubectl get: the printer columns of vxmesh\'s CRDs, printed by the API server', () => {
  beforeAll(async () => {
    const { client } = kube;
    await createObject(client, { apiVersion: VXMESH_API, kind: 'VxlanConfig', metadata: { name: 'overlay-all' }, spec: { clusterNetwork: 'overlay', uplink: { nics: ['vxmu0'] } } });
    const blue = await createObject(client, { apiVersion: VXMESH_API, kind: 'VxlanNetwork', metadata: { name: 'blue', namespace: 'tenant-a' }, spec: { clusterNetwork: 'overlay', vni: 100, cidr: '10.10.0.0/24' } });
    const at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    await client.replaceStatus(RESOURCES.vxlanNetworks, {
      ...blue, status: {
        allocatedIPs: 1,
        conditions: [
          { type: 'InvalidSpec', status: 'False', reason: 'Valid', message: '', lastTransitionTime: at },
          { type: 'Ready', status: 'True', reason: 'Ready', message: 'ok', lastTransitionTime: at },
        ],
      },
    });
    await createObject(client, { apiVersion: VXMESH_API, kind: 'VxlanNetwork', metadata: { name: 'red', namespace: 'tenant-b' }, spec: { clusterNetwork: 'overlay', vni: 200, cidr: '10.20.0.0/24' } });
    await createObject(client, { apiVersion: VXMESH_API, kind: 'VxlanIPAllocation', metadata: { name: 'vm1.nic1', namespace: 'tenant-a' }, spec: { network: 'tenant-a/blue', vm: 'vm1', interface: 'nic1', ip: '10.10.0.2', mac: '02:00:00:00:00:01' } });
    await createObject(client, { apiVersion: VXMESH_API, kind: 'VxlanIPClaim', metadata: { name: 'tenant-a.blue.10.10.0.2' }, spec: { network: 'tenant-a/blue', ip: '10.10.0.2', owner: { namespace: 'tenant-a', vm: 'vm1', interface: 'nic1' } } });
    await createObject(client, { apiVersion: VXMESH_API, kind: 'VxlanStatus', metadata: { name: 'overlay.node1' }, status: { clusterNetwork: 'overlay', node: 'node1', vtepIP: '198.18.0.11', mode: 'bpf', ready: true } });
  });

  it('VxlanNetwork: VNI, CIDR, cluster network, the Ready condition through a JSONPath filter, an age; IPs only with -o wide', () => {
    const t = table(kube.kubectl('get', 'vxn', '-n', 'tenant-a'));
    expect(t.header).toEqual(['NAME', 'VNI', 'CIDR', 'CLUSTER NETWORK', 'READY', 'AGE']);
    expect(t.rows).toHaveLength(1);
    expect(t.rows[0]!.slice(0, 5)).toEqual(['blue', '100', '10.10.0.0/24', 'overlay', 'True']);
    expect(t.rows[0]![5]).toMatch(/^\d+s$/);
    const wide = table(kube.kubectl('get', 'vxn', '-A', '-o', 'wide'));
    expect(wide.header).toEqual(['NAMESPACE', 'NAME', 'VNI', 'CIDR', 'CLUSTER NETWORK', 'READY', 'IPS', 'AGE']);
    // Without status the Ready and IPs cells are empty.
    expect(wide.rows.map((r) => r.slice(0, 7))).toEqual([
      ['tenant-a', 'blue', '100', '10.10.0.0/24', 'overlay', 'True', '1'],
      ['tenant-b', 'red', '200', '10.20.0.0/24', 'overlay', '', ''],
    ]);
    expect(wide.rows.every((r) => /^\d+s$/.test(r[7]!))).toBe(true);
  });

  it('the other kinds: allocations, claims, node statuses and configs', () => {
    const vxip = table(kube.kubectl('get', 'vxip', '-n', 'tenant-a'));
    expect(vxip.header).toEqual(['NAME', 'NETWORK', 'VM', 'INTERFACE', 'IP', 'AGE']);
    expect(vxip.rows.map((r) => r.slice(0, 5))).toEqual([['vm1.nic1', 'tenant-a/blue', 'vm1', 'nic1', '10.10.0.2']]);
    const claims = table(kube.kubectl('get', 'vxlanipclaims'));
    expect(claims.header).toEqual(['NAME', 'NETWORK', 'IP', 'VM', 'AGE']);
    expect(claims.rows.map((r) => r.slice(0, 4))).toEqual([['tenant-a.blue.10.10.0.2', 'tenant-a/blue', '10.10.0.2', 'vm1']]);
    const vxs = table(kube.kubectl('get', 'vxs'));
    expect(vxs.header).toEqual(['NAME', 'NODE', 'CLUSTER NETWORK', 'VTEP', 'MODE', 'READY', 'AGE']);
    expect(vxs.rows.map((r) => r.slice(0, 6))).toEqual([['overlay.node1', 'node1', 'overlay', '198.18.0.11', 'bpf', 'true']]);
    const vxc = table(kube.kubectl('get', 'vxc'));
    expect(vxc.header).toEqual(['NAME', 'CLUSTER NETWORK', 'PORT', 'AGE']);
    expect(vxc.rows.map((r) => r.slice(0, 3))).toEqual([['overlay-all', 'overlay', '4789']]);
  });

  it('`kubectl get vxmesh -A` lists every kind of the category', () => {
    const out = kube.kubectl('get', 'vxmesh', '-A', '-o', 'name').trim().split('\n').sort();
    expect(out).toEqual(expect.arrayContaining([
      'vxlanconfig.network.vxmesh.io/overlay-all',
      'vxlanipallocation.network.vxmesh.io/vm1.nic1',
      'vxlannetwork.network.vxmesh.io/blue',
      'vxlannetwork.network.vxmesh.io/red',
      'vxlanstatus.network.vxmesh.io/overlay.node1',
    ]));
  });
});
