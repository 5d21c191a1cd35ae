import { isFailClosed } from '../../src/sources/policy-fallback.js';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { createKubernetesSource, type KubernetesSource } from '../../src/sources/kubernetes/index.js';
import { applyFixture, createObject, quietLog, startKube, until, type Kube } from './helpers.js';

const policy = {
  apiVersion: 'k8s.cni.cncf.io/v1beta1', kind: 'MultiNetworkPolicy',
  metadata: { name: 'web-ingress', namespace: 'tenant-a', annotations: { 'k8s.v1.cni.cncf.io/policy-for': 'tenant-a/blue' } },
  spec: { podSelector: { matchLabels: { role: 'web' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }] }] },
};

let kube: Kube | undefined;
let source: KubernetesSource | undefined;
afterEach(async () => {
  await source?.stop();
  await kube?.stop();
  source = undefined;
  kube = undefined;
});

/** A real control plane with deploy/ and the upstream CRDs, without `without` if given. */
async function cluster(without?: string): Promise<Kube> {
  kube = await startKube();
  kube.applyDeploy();
  if (without) kube.kubectl('delete', 'crd', without, '--wait=true');
  return kube;
}

describe('Kubernetes source: traffic policies', () => {
  it('reads MultiNetworkPolicies and Namespaces into the snapshot, and follows their changes', async () => {
    const { client } = await cluster();
    await client.kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: 'tenant-a', labels: { tenant: 'a' } } } });
    await applyFixture(client, new URL('../fixtures/k8s-base.yaml', import.meta.url).pathname);
    await createObject(client, policy);
    source = createKubernetesSource({ kubeconfigYaml: await kube!.serviceAccountKubeconfig('vxmesh-agent'), node: 'node1', log: quietLog });
    await source.start(() => {});
    const s = source.current().snapshot;
    expect(s.policies.map((p) => `${p.metadata.namespace}/${p.metadata.name}`)).toEqual(['tenant-a/web-ingress']);
    expect(s.namespaces.find((n) => n.metadata.name === 'tenant-a')?.metadata.labels).toEqual({ tenant: 'a', 'kubernetes.io/metadata.name': 'tenant-a' }) // the real server adds the name label;
    const bad = { ...policy, metadata: { ...policy.metadata, name: 'bad' }, spec: { ...policy.spec, ingress: [{ ports: [{ protocol: 'TCP', port: 90, endPort: 80 }] }] } };
    await createObject(client, bad);
    const errs = await until('the invalid policy is reported', () => source!.current().errors.find((e) => e.message.includes('MultiNetworkPolicy tenant-a/bad')));
    expect(errs.message).toMatch(/endPort/);
    // never valid, so no last good version: it fails closed as a deny-all stand-in (policy-fallback.ts)
    const policies = source.current().snapshot.policies;
    expect(policies.map((p) => p.metadata.name)).toEqual(['bad', 'web-ingress']);
    expect(isFailClosed(policies[0])).toBe(true);
    expect(policies[0]!.spec.ingress ?? []).toEqual([]);
    expect(isFailClosed(policies[1])).toBe(false);
  });

  it('starts on a cluster without the MultiNetworkPolicy CRD, with no policies', async () => {
    const { client } = await cluster('multi-networkpolicies.k8s.cni.cncf.io');
    expect(() => kube!.kubectl('get', 'multi-networkpolicies.k8s.cni.cncf.io', '-A')).toThrow(/doesn't have a resource type|the server doesn't have/);
    await applyFixture(client, new URL('../fixtures/k8s-base.yaml', import.meta.url).pathname);
    source = createKubernetesSource({ kubeconfigYaml: await kube!.serviceAccountKubeconfig('vxmesh-agent'), node: 'node1', log: quietLog, minBackoffMs: 50, maxBackoffMs: 200 });
    await source.start(() => {});
    expect(source.current().snapshot.policies).toEqual([]);
    expect(source.current().snapshot.vxlanNetworks.map((n) => n.metadata.name).sort()).toEqual(['blue', 'red']);
  });
});
