/**
 * The pure parts of the Kubernetes lab: how the lab file's objects are applied (order, namespaces,
 * labels, statuses apart), what of the chart it installs (rendered by the real helm; the same objects
 * as the real kustomize renders from deploy/), and where the control plane's binaries are cached (the same
 * place build/kube-tools.sh says).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { missingKubeTools } from '../../src/controlplane/tools-cache.js';
import { kubeTools } from '../../src/controlplane/tools.js';
import { LAB_LABEL, planApply, statusHeld } from '../../src/lab/cluster.js';
import { readLabInput } from '../../src/lab/input.js';
import { describe as describeObject, planChartInstall, renderKustomize } from '../../src/lab/kube-apply.js';
import { REPO } from '../helpers/lab.js';

const example = () => {
  const r = readLabInput(readFileSync(`${REPO}/examples/lab.yaml`, 'utf8'), 'examples/lab.yaml');
  if (!r.input) throw new Error(r.errors.map((e) => e.message).join('\n'));
  return r.input;
};
const names = (plan: ReturnType<typeof planApply>) => plan.map((p) => `${p.object.kind} ${p.object.metadata.namespace ? `${p.object.metadata.namespace}/` : ''}${p.object.metadata.name}`);

describe('planApply: the lab file as the lab applies it to its API server', () => {
  it('creates the namespaces the objects use first, then the kinds in dependency order; no allocations (the controller makes them)', () => {
    const plan = planApply('demo', example().objects);
    expect(names(plan)).toEqual([
      'Namespace tenant-a', 'Namespace tenant-b',
      'Node node1', 'Node node2', 'Node node3',
      'ClusterNetwork overlay', 'VxlanConfig overlay-all',
      'VxlanNetwork tenant-a/blue', 'VxlanNetwork tenant-b/red',
      ...['a1', 'a2', 'a3'].map((v) => `VirtualMachineInstance tenant-a/vm-${v}`),
      ...['b1', 'b2', 'b3'].map((v) => `VirtualMachineInstance tenant-b/vm-${v}`),
    ]);
    expect(example().objects.some((o: any) => o.kind === 'VxlanIPAllocation')).toBe(true); // positive control: they were there
    for (const p of plan) expect(p.object.metadata.labels[LAB_LABEL]).toBe('demo');
  });

  it('keeps the status apart (KubeVirt writes it, not the user) and leaves the object without one', () => {
    const vmi = planApply('demo', example().objects).find((p) => p.object.metadata.name === 'vm-b3')!;
    expect(vmi.status).toEqual({ nodeName: 'node3' });
    expect(vmi.object.status).toBeUndefined();
    expect(vmi.object.metadata.annotations).toEqual({ 'network.vxmesh.io/ip-address': '10.10.0.50' });
    const net = planApply('demo', example().objects).find((p) => p.object.kind === 'VxlanNetwork')!;
    expect(net.status).toBeUndefined();
  });

  it('applies a declared namespace with its labels instead of a bare one, and puts objects without a namespace in default', () => {
    const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'tenant-a', labels: { tenant: 'a' } } };
    const vmi = { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name: 'x' }, spec: {} };
    const plan = planApply('demo', [...example().objects, ns, vmi]);
    const namespaces = plan.filter((p) => p.object.kind === 'Namespace').map((p) => p.object.metadata);
    expect(namespaces).toEqual([
      { name: 'tenant-a', labels: { tenant: 'a', [LAB_LABEL]: 'demo' } },
      { name: 'tenant-b', labels: { [LAB_LABEL]: 'demo' } },
    ]);
    expect(plan.find((p) => p.object.metadata.name === 'x')!.object.metadata.namespace).toBe('default');
  });

  it('refuses a kind the lab does not manage, naming the object', () => {
    expect(() => planApply('demo', [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'n' } }])).toThrow(/ConfigMap n\/c: kind ConfigMap is not served/);
  });
});

describe('statusHeld', () => {
  it('is true only when every field given is already the live one', () => {
    const live = { nodeName: 'n1', migrationState: { sourceNode: 'n1', targetNode: 'n2' } };
    expect(statusHeld(live, { nodeName: 'n1' })).toBe(true);
    expect(statusHeld(live, { nodeName: 'n2' })).toBe(false);
    expect(statusHeld(live, { migrationState: { sourceNode: 'n1', targetNode: 'n2', completed: true } })).toBe(false);
    expect(statusHeld(undefined, { nodeName: 'n1' })).toBe(false);
  });
});

describe('the chart as the lab installs it (deploy/namespace.yaml, then helm template … --include-crds)', () => {
  const plan = planChartInstall(REPO);
  const all = [plan.namespace, ...plan.crds, ...plan.rest];

  it('applies the namespace, the CRDs, ServiceAccounts, RBAC and admission policy as namespace, CRDs and the rest; leaves out the workloads nothing would run', () => {
    expect(plan.command).toBe('helm template vxmesh deploy/chart --namespace vxmesh-system --include-crds');
    expect(plan.namespace.metadata).toEqual({ name: 'vxmesh-system', labels: { 'app.kubernetes.io/part-of': 'vxmesh', 'pod-security.kubernetes.io/enforce': 'privileged' } });
    expect(plan.crds.map((o) => o.metadata.name).sort()).toEqual(['vxlanconfigs', 'vxlanipallocations', 'vxlanipclaims', 'vxlannetworks', 'vxlanstatuses'].map((n) => `${n}.network.vxmesh.io`));
    const kinds = new Set(plan.rest.map((o) => o.kind));
    for (const k of ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']) expect(kinds, k).toContain(k);
    expect(kinds).not.toContain('Namespace');
    expect(kinds).not.toContain('CustomResourceDefinition');
    expect(plan.rest.filter((o) => o.kind === 'ServiceAccount').map((o) => o.metadata.name).sort()).toEqual(['vxmesh-agent', 'vxmesh-controller']);
    for (const o of plan.rest.filter((o) => o.metadata.namespace !== undefined)) expect(o.metadata.namespace, describeObject(o)).toBe('vxmesh-system');
    expect(plan.skipped.map((o) => o.kind).sort()).toEqual(['DaemonSet', 'Deployment']);
  });

  it("installs the same objects as `kubectl apply -k deploy/` (kubectl kustomize's rendering), so the two install paths cannot drift apart", async () => {
    const key = (o: { kind?: string; metadata: { namespace?: string; name: string } }) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    const kustomize = await renderKustomize(REPO);
    const chart = [...all, ...plan.skipped];
    expect(chart.map(key).sort()).toEqual(kustomize.map(key).sort());
    expect(new Set(chart.map(key)).size).toBe(chart.length);
    // Helm renders no Namespace: the lab's comes from deploy/namespace.yaml, the one kustomize installs too.
    expect(kustomize.find((o) => o.kind === 'Namespace')).toEqual(plan.namespace);
  });
});

describe('the control plane binaries in the cache (build/kube-tools.sh --missing)', () => {
  it('are not missing once kubeTools() has them, and all missing in an empty cache (VXMESH_TOOLS_DIR)', () => {
    const t = kubeTools();
    expect(missingKubeTools()).toEqual([]);
    expect(missingKubeTools({ ...process.env, VXMESH_TOOLS_DIR: '/nonexistent/tools' })).toEqual([
      { name: 'kube-apiserver', version: t.kubeVersion },
      { name: 'etcd', version: t.etcdVersion },
      { name: 'helm', version: t.helmVersion },
    ]);
  });

  it('answers without Go on the PATH (it never builds)', () => {
    expect(missingKubeTools({ PATH: '/usr/bin:/bin', VXMESH_TOOLS_DIR: '/nonexistent/tools' }).map((m) => m.name)).toEqual(['kube-apiserver', 'etcd', 'helm']);
  });
});
