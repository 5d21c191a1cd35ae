/**
 * The Kubernetes source reading MultiNetworkPolicies (the real k8snetworkplumbingwg CRD) and Namespaces from a
 * real kube-apiserver, as the agent's ServiceAccount: invalid policies fail closed; a cluster without the
 * MultiNetworkPolicy CRD starts with none and picks them up once the CRD is installed.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { installUpstreamCrds } from '../../src/controlplane/upstream-crds.js';
import { RESOURCES } from '../../src/k8s/resources.js';
import { createKubernetesSource, type KubernetesSource } from '../../src/sources/kubernetes/index.js';
import { isFailClosed } from '../../src/sources/policy-fallback.js';
import { applyFixture, createObject, quietLog, startKube, until, type Kube } from './helpers.js';

const policy = {
  apiVersion: 'k8s.cni.cncf.io/v1beta1', kind: 'MultiNetworkPolicy',
  metadata: { name: 'web-ingress', namespace: 'tenant-a', annotations: { 'k8s.v1.cni.cncf.io/policy-for': 'tenant-a/blue' } },
  spec: { podSelector: { matchLabels: { role: 'web' } }, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }] }] },
};
const MNP_CRD = 'multi-networkpolicies.k8s.cni.cncf.io';

let kube: Kube;
let agentKubeconfig: string;
let source: KubernetesSource | undefined;
beforeAll(async () => {
  kube = await startKube();
  await kube.applyDeploy();
  agentKubeconfig = await kube.agentKubeconfig('node1');
  // The tenant's namespace with its labels first (the fixture's objects would otherwise create it bare).
  await kube.client.create(RESOURCES.namespaces, { metadata: { name: 'tenant-a', labels: { tenant: 'a' } } });
  await applyFixture(kube.client, new URL('../fixtures/k8s-base.yaml', import.meta.url).pathname);
});
afterEach(async () => {
  await source?.stop();
  source = undefined;
});
afterAll(async () => kube?.stop());

describe('Kubernetes source: traffic policies', () => {
  it('reads MultiNetworkPolicies and Namespaces into the snapshot, and follows their changes', async () => {
    await createObject(kube.client, policy);
    source = createKubernetesSource({ kubeconfigYaml: agentKubeconfig, node: 'node1', log: quietLog });
    await source.start(() => {});
    const s = source.current().snapshot;
    expect(s.policies.map((p) => `${p.metadata.namespace}/${p.metadata.name}`)).toEqual(['tenant-a/web-ingress']);
    // The real server adds the name label every namespace carries.
    expect(s.namespaces.find((n) => n.metadata.name === 'tenant-a')?.metadata.labels).toEqual({ tenant: 'a', 'kubernetes.io/metadata.name': 'tenant-a' });
    const bad = { ...policy, metadata: { ...policy.metadata, name: 'bad' }, spec: { ...policy.spec, ingress: [{ ports: [{ protocol: 'TCP', port: 90, endPort: 80 }] }] } };
    await createObject(kube.client, bad);
    const errs = await until('the invalid policy is reported', () => source!.current().errors.find((e) => e.message.includes('MultiNetworkPolicy tenant-a/bad')));
    expect(errs.message).toMatch(/endPort/);
    // never valid, so no last good version: it fails closed as a deny-all stand-in (policy-fallback.ts)
    const policies = source.current().snapshot.policies;
    expect(policies.map((p) => p.metadata.name)).toEqual(['bad', 'web-ingress']);
    expect(isFailClosed(policies[0])).toBe(true);
    expect(policies[0]!.spec.ingress ?? []).toEqual([]);
    expect(isFailClosed(policies[1])).toBe(false);
    // A namespace's labels change: followed.
    const ns = (await kube.client.get(RESOURCES.namespaces, 'tenant-a'))!;
    await kube.client.replace(RESOURCES.namespaces, { ...ns, metadata: { ...ns.metadata, labels: { ...ns.metadata.labels, tier: 'gold' } } });
    await until('label seen', () => source!.current().snapshot.namespaces.find((n) => n.metadata.name === 'tenant-a')?.metadata.labels?.tier === 'gold');
  });

  it('starts on a cluster without the MultiNetworkPolicy CRD, with no policies, and reads them once the CRD is installed', async () => {
    kube.kubectl('delete', 'crd', MNP_CRD, '--wait=true', '--timeout=60s');
    source = createKubernetesSource({ kubeconfigYaml: agentKubeconfig, node: 'node1', log: quietLog, minBackoffMs: 50, maxBackoffMs: 200 });
    await source.start(() => {});
    expect(source.current().snapshot.policies).toEqual([]);
    expect(source.current().snapshot.vxlanNetworks.map((n) => n.metadata.name).sort()).toEqual(['blue', 'red']);
    await installUpstreamCrds(kube.cp);
    await createObject(kube.client, policy);
    await until('the policy of the new CRD seen', () => source!.current().snapshot.policies.some((p) => p.metadata.name === 'web-ingress'), 15_000);
  });
});
