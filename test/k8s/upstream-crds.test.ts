/**
 * The real upstream CRDs (NAD, MultiNetworkPolicy, Harvester ClusterNetwork, KubeVirt VMI and VM; see
 * build/upstream-crds.sh) on a real kube-apiserver + etcd: installed, Established, and serving the objects
 * vxmesh reads and writes in the shape the fixtures and the controller use — while their real schemas refuse
 * what they should. Run under the machine-wide lock: flock /tmp/vxm-netns.lock npx vitest run <this file>.
 */
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlane } from '../../src/controlplane/control-plane.js';
import { kubeTools } from '../../src/controlplane/tools.js';
import { crdState, installUpstreamCrds, unserved, UpstreamCrdError, type Crd } from '../../src/controlplane/upstream-crds.js';
import { desiredNads } from '../../src/controller/nad.js';
import { apiErrorCode, errorMessage, KubeClient, loadKubeConfig, type KObject } from '../../src/k8s/client.js';
import { RESOURCES } from '../../src/k8s/resources.js';
import { fixtureDocs, snapshotOf } from '../helpers/fixtures.js';
import { createObject } from './helpers.js';

let cp: ControlPlane | undefined;
let client: KubeClient;
let installed: Crd[];

const ofKind = (file: string, kind: string) => (fixtureDocs(file) as KObject[]).filter((d) => d.kind === kind);
const byName = (name: string) => installed.find((c) => c.metadata.name === name)!;

/** The API server's refusal of a write: its HTTP status and message (fails the test if the write succeeded). */
async function refusal(write: Promise<unknown>): Promise<{ code: number | undefined; message: string }> {
  try {
    await write;
  } catch (err) {
    return { code: apiErrorCode(err), message: errorMessage(err) };
  }
  throw new Error('the API server accepted it');
}

beforeAll(async () => {
  cp = await ControlPlane.start({ dir: `/run/vxmesh-tests/control-planes/upstream-crds-${process.pid}-${Date.now()}` });
  const t0 = Date.now();
  installed = await installUpstreamCrds(cp);
  console.log(`installed ${installed.length} upstream CRDs in ${Date.now() - t0} ms`);
  client = new KubeClient(loadKubeConfig({ kubeconfigYaml: cp.adminKubeconfig() }));
  for (const name of ['tenant-a', 'tenant-b']) await client.create(RESOURCES.namespaces, { metadata: { name } });
});

afterAll(async () => {
  await cp?.stop();
});

describe('upstream CRDs on a real API server', () => {
  it('are Established and serve the group, version, kind and scope vxmesh reads', async () => {
    expect(installed.map((c) => c.metadata.name).sort()).toEqual([
      'clusternetworks.network.harvesterhci.io', 'multi-networkpolicies.k8s.cni.cncf.io',
      'network-attachment-definitions.k8s.cni.cncf.io', 'virtualmachineinstances.kubevirt.io', 'virtualmachines.kubevirt.io',
    ]);
    for (const c of installed) expect(crdState(c), c.metadata.name).toEqual({ established: true });
    expect(unserved(installed)).toEqual([]);
    // Positive control for the check itself: a version the real Harvester CRD does not serve is named.
    expect(unserved(installed, [{ ...RESOURCES.clusterNetworks, version: 'v1' }])).toEqual([
      'clusternetworks.network.harvesterhci.io/v1: version v1 is not served (served: v1beta1)',
    ]);
    // KubeVirt's CRDs come from KubeVirt's own generator (its app label, both API versions it serves).
    const vmi = byName('virtualmachineinstances.kubevirt.io');
    expect(vmi.metadata.labels).toEqual({ 'kubevirt.io': '' });
    expect(vmi.spec.versions.map((v) => [v.name, v.served, v.storage])).toEqual([['v1', true, true], ['v1alpha3', true, false]]);
  });

  it('install again updates them in place', async () => {
    const again = await installUpstreamCrds(cp!);
    for (const c of again) {
      expect(c.metadata.uid, c.metadata.name).toBe(byName(c.metadata.name).metadata.uid);
      expect(crdState(c)).toEqual({ established: true });
    }
  });

  it('a CRD the server does not establish is named in the error', async () => {
    // The upstream files plus a CRD whose kind VirtualMachineInstance is already taken in kubevirt.io.
    const dir = path.join(cp!.state.dir, 'crds-with-conflict');
    mkdirSync(dir);
    const upstream = kubeTools().upstreamCrds!;
    for (const f of readdirSync(upstream)) copyFileSync(path.join(upstream, f), path.join(dir, f));
    writeFileSync(path.join(dir, 'zz-conflict.yaml'), [
      'apiVersion: apiextensions.k8s.io/v1', 'kind: CustomResourceDefinition', 'metadata: { name: vmicopies.kubevirt.io }',
      'spec:', '  group: kubevirt.io', '  scope: Namespaced', '  names: { plural: vmicopies, kind: VirtualMachineInstance }',
      '  versions: [{ name: v1, served: true, storage: true, schema: { openAPIV3Schema: { type: object } } }]', '',
    ].join('\n'));
    const err = await installUpstreamCrds(cp!, { dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamCrdError);
    expect((err as Error).message).toMatch(/^CRD vmicopies\.kubevirt\.io was not Established: names not accepted: .*VirtualMachineInstance.* is already in use/);
  });

  it('NetworkAttachmentDefinition: the controller\'s NADs are stored as written; a config that is not a string is refused', async () => {
    const nads = desiredNads(snapshotOf(fixtureDocs('k8s-base.yaml')).snapshot, new Map());
    expect(nads.map((n) => `${n.metadata.namespace}/${n.metadata.name}`)).toEqual(['tenant-a/blue', 'tenant-b/red']);
    for (const nad of nads) {
      const got = await client.create(RESOURCES.nads, nad);
      expect(got.spec).toEqual(nad.spec);
      expect(got.metadata.labels).toEqual(nad.metadata.labels);
    }
    const bad = { ...nads[0]!, metadata: { name: 'bad', namespace: 'tenant-a' }, spec: { config: JSON.parse(nads[0]!.spec.config) } };
    const r = await refusal(client.create(RESOURCES.nads, bad));
    expect(r.code).toBe(422);
    expect(r.message).toMatch(/spec\.config: Invalid value: "object": spec\.config in body must be of type string/);
  });

  it('MultiNetworkPolicy: the fixture policy is stored unpruned; ingress that is not a list is refused', async () => {
    const [policy] = ofKind('policies.yaml', 'MultiNetworkPolicy');
    const got = await createObject(client, policy!);
    expect(got.spec).toEqual(policy!.spec);
    expect(got.metadata.annotations).toEqual(policy!.metadata.annotations);
    const bad = { ...policy!, metadata: { ...policy!.metadata, name: 'bad' }, spec: { ...policy!.spec, ingress: { from: [] } } };
    const r = await refusal(createObject(client, bad));
    expect(r.code).toBe(422);
    expect(r.message).toMatch(/spec\.ingress: Invalid value: "object": spec\.ingress in body must be of type array/);
  });

  it('ClusterNetwork: network.harvesterhci.io/v1beta1, no status subresource, no spec; a condition without type is refused', async () => {
    const [cn] = ofKind('k8s-base.yaml', 'ClusterNetwork');
    const status = { conditions: [{ type: 'ready', status: 'True' }] };
    const got = await client.create(RESOURCES.clusterNetworks, { ...cn!, spec: { unknown: 1 }, status });
    expect(got.metadata.name).toBe('overlay');
    expect(got.status).toEqual(status); // written with the object: the real CRD has no status subresource
    expect(got.spec).toBeUndefined(); // the real schema has no spec: pruned
    expect(byName('clusternetworks.network.harvesterhci.io').spec.versions[0]!.subresources).toBeUndefined();
    const noStatusEndpoint = await refusal(client.replaceStatus(RESOURCES.clusterNetworks, got));
    expect(noStatusEndpoint.code).toBe(404);
    const r = await refusal(client.create(RESOURCES.clusterNetworks, { metadata: { name: 'bad' }, status: { conditions: [{ status: 'True' }] } }));
    expect(r.code).toBe(422);
    expect(r.message).toMatch(/status\.conditions\[0\]\.type: Required value/);
  });

  it('VirtualMachineInstance: status is written with the object (no status subresource) and what vxmesh reads is kept', async () => {
    const vmis = ofKind('two-tenants.yaml', 'VirtualMachineInstance');
    expect(vmis.length).toBe(3);
    for (const v of vmis) {
      const got = await createObject(client, v);
      expect(got.spec.domain.devices.interfaces).toEqual(v.spec.domain.devices.interfaces);
      expect(got.spec.networks).toEqual(v.spec.networks);
      expect(got.status).toEqual(v.status);
    }
    expect(byName('virtualmachineinstances.kubevirt.io').spec.versions.every((v) => v.subresources === undefined)).toBe(true);
    const a1 = (await client.get(RESOURCES.vmis, 'a1', 'tenant-a'))!;
    expect((await refusal(client.replaceStatus(RESOURCES.vmis, a1))).code).toBe(404);
    // A migration as virt-handler writes it: the fields vxmesh reads survive, a field the schema lacks is pruned.
    const status = {
      nodeName: 'node2', phase: 'Running',
      interfaces: [{ name: 'nic1', mac: '02:00:00:0a:00:01' }],
      migrationState: { sourceNode: 'node1', targetNode: 'node2', completed: true, failed: false },
    };
    const moved = await client.replace(RESOURCES.vmis, { ...a1, status: { ...status, vxmeshUnknown: 'x' } });
    expect(moved.status).toEqual(status);
    const r = await refusal(client.create(RESOURCES.vmis, { metadata: { name: 'bad', namespace: 'tenant-a' }, spec: { networks: [] } }));
    expect(r.code).toBe(422);
    expect(r.message).toMatch(/spec\.domain: Required value/);
  });

  it('VirtualMachine: status only through its status subresource; a VM without a template is refused', async () => {
    const [a1] = ofKind('two-tenants.yaml', 'VirtualMachineInstance');
    const vm: KObject = {
      metadata: { name: 'a1', namespace: 'tenant-a' },
      spec: { runStrategy: 'Always', template: { metadata: { labels: { app: 'a1' } }, spec: a1!.spec } },
      status: { printableStatus: 'Running' },
    };
    const created = await client.create(RESOURCES.vms, vm);
    expect(created.spec.template.spec).toEqual(a1!.spec);
    expect(created.status).toBeUndefined(); // the main endpoint ignores status
    const withStatus = await client.replaceStatus(RESOURCES.vms, { ...created, status: { printableStatus: 'Running', ready: true } });
    expect(withStatus.status).toEqual({ printableStatus: 'Running', ready: true });
    expect((await client.get(RESOURCES.vms, 'a1', 'tenant-a'))!.status).toEqual({ printableStatus: 'Running', ready: true });
    const r = await refusal(client.create(RESOURCES.vms, { metadata: { name: 'bad', namespace: 'tenant-a' }, spec: { runStrategy: 'Always' } }));
    expect(r.code).toBe(422);
    expect(r.message).toMatch(/spec\.template: Required value/);
  });
});
