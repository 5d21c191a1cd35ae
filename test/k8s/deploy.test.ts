import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { renderCrdFiles } from '../../src/model/crd-yaml.js';
import { crdFiles } from '../../src/model/crds.js';
import type { JsonSchema } from '../../src/model/openapi.js';
import { parseDocuments } from '../../src/sources/validate.js';
import { checkSchema, evalAdmission } from './openapi-check.js';
import { NODE_TOOLS } from '../../src/agent/preflight.js';

const DEPLOY = new URL('../../deploy/', import.meta.url).pathname;
const SRC = new URL('../../src/', import.meta.url).pathname;

/** The kubernetes-models class of a manifest (e.g. apps/v1 DaemonSet). */
type Model = new (d: unknown) => { validate(): void };
async function modelOf(d: Record<string, any>): Promise<Model | undefined> {
  return ((await import(`kubernetes-models/${d.apiVersion}`)) as Record<string, Model>)[d.kind];
}
const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;

type Doc = Record<string, any>;
const load = (file: string): Doc[] => YAML.parseAllDocuments(readFileSync(join(DEPLOY, file), 'utf8')).map((d) => d.toJS()).filter(Boolean);
const kustomization = load('kustomization.yaml')[0]!;
const docs: Doc[] = (kustomization.resources as string[]).flatMap(load);
const find = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata?.name === name)!;
const crdSchema = (kind: string): JsonSchema => docs.find((d) => d.kind === 'CustomResourceDefinition' && d.spec.names.kind === kind)!.spec.versions[0].schema.openAPIV3Schema;
const podSpec = (kind: string, name: string) => find(kind, name).spec.template.spec;

const KNOWN = new Set([
  'v1/Namespace', 'v1/ServiceAccount', 'apiextensions.k8s.io/v1/CustomResourceDefinition', 'rbac.authorization.k8s.io/v1/ClusterRole',
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding', 'rbac.authorization.k8s.io/v1/Role', 'rbac.authorization.k8s.io/v1/RoleBinding',
  'apps/v1/DaemonSet', 'apps/v1/Deployment', 'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy', 'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding',
]);
const CLUSTER_SCOPED = new Set(['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);

describe('deploy/ manifests', () => {
  it('lists every manifest in the kustomization and uses only known apiVersions and kinds', () => {
    const files = readdirSync(DEPLOY).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    const crds = readdirSync(join(DEPLOY, 'crds')).map((f) => `crds/${f}`);
    expect([...kustomization.resources].sort()).toEqual([...files, ...crds].sort());
    for (const d of docs) {
      expect(KNOWN.has(`${d.apiVersion}/${d.kind}`), `${d.apiVersion}/${d.kind}`).toBe(true);
      expect(d.metadata.name).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
      if (CLUSTER_SCOPED.has(d.kind)) expect(d.metadata.namespace).toBeUndefined();
      else expect(d.metadata.namespace).toBe('vxmesh-system');
    }
  });

  it('ships CRDs generated from the current zod schemas', () => {
    for (const [file, text] of renderCrdFiles()) expect(readFileSync(join(DEPLOY, 'crds', file), 'utf8'), `deploy/crds/${file} is stale: run node build/gen-crds.mjs`).toBe(text);
    expect(crdFiles().size).toBe(5);
  });

  it('CRD schemas accept the objects of the lab and test fixtures', () => {
    const EXAMPLES = new URL('../../examples/', import.meta.url).pathname;
    const files = [join(FIXTURES, 'two-tenants.yaml'), join(FIXTURES, 'k8s-base.yaml'), ...(existsSync(EXAMPLES) ? readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml')).map((f) => join(EXAMPLES, f)) : [])];
    for (const file of files) {
      for (const d of parseDocuments(readFileSync(file, 'utf8'), file).docs as Doc[]) {
        if (d.apiVersion !== 'network.vxmesh.io/v1alpha1' || d.kind === 'Lab') continue;
        expect(checkSchema(crdSchema(d.kind), d), `${file} ${d.kind} ${d.metadata.name}`).toEqual([]);
      }
    }
  });

  it('CRD validation rejects a VNI out of range and a VxlanConfig on mgmt', () => {
    const net = crdSchema('VxlanNetwork');
    expect(net.properties!.spec!['x-kubernetes-validations']).toContainEqual({ rule: 'self.vni >= 1 && self.vni <= 16777215', message: 'vni must be in 1..16777215' });
    const bad = { apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanNetwork', metadata: { name: 'x' }, spec: { clusterNetwork: 'overlay', vni: 16777216, cidr: '10.0.0.0/24' } };
    expect(checkSchema(net, bad)).toEqual(['.spec.vni: should be <= 16777215', '.spec: vni must be in 1..16777215']);
    expect(checkSchema(net, { ...bad, spec: { ...bad.spec, vni: 5, cidr: '10.0.0.0/33' } })[0]).toContain('.spec.cidr: does not match');
    const cfg = crdSchema('VxlanConfig');
    const mgmt = { spec: { clusterNetwork: 'mgmt', uplink: { nics: ['eth0'] } } };
    expect(checkSchema(cfg, mgmt)).toEqual(['.spec: mgmt is built in and takes no VxlanConfig']);
    expect(checkSchema(cfg, { spec: { clusterNetwork: 'prov', uplink: { nics: ['eth0'] }, vtep: { addressFrom: 'static' } } })).toEqual(['.spec: vtep.addressFrom static needs vtep.addresses']);
    const nets = docs.find((d) => d.kind === 'CustomResourceDefinition' && d.spec.names.kind === 'VxlanNetwork')!.spec.versions[0];
    expect(nets.additionalPrinterColumns.map((c: Doc) => c.name)).toEqual(expect.arrayContaining(['VNI', 'CIDR', 'Cluster Network']));
    expect(nets.subresources).toEqual({ status: {} });
  });

  it('refuses an update of a VxlanNetwork\'s VNI, cluster network or CIDR (CEL transition rules), and accepts other edits', () => {
    const net = crdSchema('VxlanNetwork');
    const old = { apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanNetwork', metadata: { name: 'blue' }, spec: { clusterNetwork: 'overlay', vni: 100, cidr: '10.10.0.0/24' } };
    const edit = (spec: Doc) => checkSchema(net, { ...old, spec: { ...old.spec, ...spec } }, '', old);
    expect(edit({ vni: 200 })).toEqual(['.spec: spec.vni is immutable: create a new VxlanNetwork and move the VMs']);
    expect(edit({ clusterNetwork: 'other' })).toEqual(['.spec: spec.clusterNetwork is immutable: create a new VxlanNetwork and move the VMs']);
    expect(edit({ cidr: '10.11.0.0/24' })).toEqual(['.spec: spec.cidr is immutable (it would renumber running VMs): create a new VxlanNetwork and move the VMs']);
    // Positive controls: other fields change freely, and a create (no old object) takes any VNI.
    expect(edit({ natOutgoing: false, mtu: 1400, allowedNamespaces: ['tenant-b'], excludeIPs: ['10.10.0.9'] })).toEqual([]);
    expect(checkSchema(net, { ...old, spec: { ...old.spec, vni: 200 } })).toEqual([]);
  });

  it('admits an agent\'s VxlanStatus only for its own node: name, status.node (and so the VTEP) checked', () => {
    const vap = find('ValidatingAdmissionPolicy', 'vxmesh-agent-own-status');
    const agent = (node?: string) => ({ userInfo: { username: 'system:serviceaccount:vxmesh-system:vxmesh-agent', extra: node ? { 'authentication.kubernetes.io/node-name': [node] } : {} } });
    const status = (name: string, node?: string) => ({ metadata: { name }, ...(node ? { status: { clusterNetwork: 'overlay', node, vtepIP: '198.18.0.66', ready: true } } : {}) });
    const denied = (object: unknown, request: unknown) => (vap.spec.validations as Doc[]).filter((v) => !evalAdmission(v.expression, { object, request })).map((v) => v.message);
    expect(evalAdmission(vap.spec.matchConditions[0].expression, { object: {}, request: agent('node1') })).toBe(true);
    // Positive controls: its own status, before and after the status is written.
    expect(denied(status('overlay.node1'), agent('node1'))).toEqual([]);
    expect(denied(status('overlay.node1', 'node1'), agent('node1'))).toEqual([]);
    // Another node's object, or its own object claiming another node (and VTEP).
    expect(denied(status('overlay.node2', 'node2'), agent('node1'))).toEqual(['an agent may only write the VxlanStatus of its own node', 'an agent may only publish status.node (and so a VTEP) of its own node']);
    expect(denied(status('overlay.node1', 'node2'), agent('node1'))).toEqual(['an agent may only publish status.node (and so a VTEP) of its own node', 'a VxlanStatus must be named <status.clusterNetwork>.<status.node>']);
    // Without the token's node claim, the name must still match status.node (readers check the same).
    expect(denied(status('overlay.node1', 'node2'), agent())).toEqual(['a VxlanStatus must be named <status.clusterNetwork>.<status.node>']);
    expect(denied(status('overlay.node2', 'node2'), agent())).toEqual([]);
  });

  it('gives the agent read access and write access to VxlanStatus only', () => {
    const rules: Doc[] = find('ClusterRole', 'vxmesh-agent').rules;
    const writes = rules.filter((r) => r.verbs.some((v: string) => !['get', 'list', 'watch'].includes(v)));
    expect(writes.flatMap((r) => r.resources).sort()).toEqual(['vxlanstatuses', 'vxlanstatuses/status']);
    expect(rules.flatMap((r) => r.verbs)).not.toContain('delete');
    const reads = rules.flatMap((r) => r.resources);
    for (const res of ['nodes', 'clusternetworks', 'vxlanconfigs', 'vxlannetworks', 'virtualmachineinstances', 'vxlanipallocations', 'vxlanstatuses', 'network-attachment-definitions']) expect(reads).toContain(res);
    expect(find('ValidatingAdmissionPolicy', 'vxmesh-agent-own-status').spec.validations[0].expression).toContain("endsWith('.' + request.userInfo.extra['authentication.kubernetes.io/node-name'][0])");
  });

  it('gives the controller what it writes and nothing more', () => {
    const rules: Doc[] = find('ClusterRole', 'vxmesh-controller').rules;
    const writable = new Set(rules.filter((r) => r.verbs.includes('create') || r.verbs.includes('update')).flatMap((r) => r.resources));
    expect([...writable].sort()).toEqual(['events', 'network-attachment-definitions', 'vxlanipallocations', 'vxlanipclaims', 'vxlannetworks/status']);
    expect(rules.flatMap((r) => r.resources)).not.toContain('leases');
    expect(find('Role', 'vxmesh-controller-leader-election')).toMatchObject({ metadata: { namespace: 'vxmesh-system' }, rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'] }] });
    for (const b of docs.filter((d) => d.kind.endsWith('Binding') && d.kind !== 'ValidatingAdmissionPolicyBinding')) {
      expect(find(b.roleRef.kind, b.roleRef.name), `${b.kind} ${b.metadata.name}`).toBeDefined();
      for (const s of b.subjects) expect(find('ServiceAccount', s.name)).toBeDefined();
    }
  });

  it('runs the agent on every node: privileged, host network, bpffs, /run/netns and /run/vxmesh-dhcp only (not all of /run), node name, probes and limits', () => {
    const ds = find('DaemonSet', 'vxmesh-agent');
    const spec = podSpec('DaemonSet', 'vxmesh-agent');
    expect(ds.spec.selector.matchLabels).toEqual(expect.objectContaining({ 'app.kubernetes.io/name': 'vxmesh-agent' }));
    expect(ds.spec.template.metadata.labels).toMatchObject(ds.spec.selector.matchLabels);
    expect(spec).toMatchObject({ hostNetwork: true, hostPID: false, serviceAccountName: 'vxmesh-agent', tolerations: [{ operator: 'Exists' }] });
    const c = spec.containers[0];
    expect(c.securityContext.privileged).toBe(true);
    expect(c.env).toContainEqual({ name: 'NODENAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
    expect(c.args).toContain('--node=$(NODENAME)');
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 9440 });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 9440 });
    expect(Object.keys(c.resources).sort()).toEqual(['limits', 'requests']);
    const mounts = Object.fromEntries(c.volumeMounts.map((m: Doc) => [m.mountPath, m.name]));
    const volumes = Object.fromEntries(spec.volumes.map((v: Doc) => [v.name, v.hostPath?.path]));
    expect(volumes[mounts['/sys/fs/bpf']]).toBe('/sys/fs/bpf');
    expect(volumes[mounts['/run/netns']]).toBe('/run/netns');
    expect(c.volumeMounts.find((m: Doc) => m.mountPath === '/run/netns').mountPropagation).toBe('Bidirectional');
    expect(volumes[mounts['/run/vxmesh-dhcp']]).toBe('/run/vxmesh-dhcp');
    // Every host path the agent mounts is one the code uses; nothing else of the host's /run.
    expect(Object.keys(mounts).filter((m) => m.startsWith('/run')).sort()).toEqual(['/run/netns', '/run/vxmesh-dhcp']);
    const src = readdirSync(join(SRC, 'dataplane'), { recursive: true }).map(String).filter((f) => f.endsWith('.ts'))
      .map((f) => readFileSync(join(SRC, 'dataplane', f), 'utf8')).join('\n');
    for (const m of ['/run/netns', '/run/vxmesh-dhcp']) expect(src, `the dataplane code uses ${m}`).toContain(m);
  });

  it('runs two controller replicas that elect a leader', () => {
    const d = find('Deployment', 'vxmesh-controller');
    expect(d.spec.replicas).toBe(2);
    expect(d.spec.template.metadata.labels).toMatchObject(d.spec.selector.matchLabels);
    const c = d.spec.template.spec.containers[0];
    expect(c.args).toEqual(['controller']);
    expect(c.env.map((e: Doc) => e.name)).toEqual(expect.arrayContaining(['POD_NAME', 'POD_NAMESPACE']));
    expect(c.readinessProbe.httpGet.port).toBe(c.ports[0].containerPort);
    expect(Object.keys(c.resources).sort()).toEqual(['limits', 'requests']);
    expect(d.spec.template.spec.serviceAccountName).toBe('vxmesh-controller');
  });

  it('validates every manifest against the Kubernetes API schemas (kubernetes-models), which reject a broken one', async () => {
    for (const d of docs) {
      const Model = await modelOf(d);
      expect(Model, `no kubernetes-models class for ${d.apiVersion} ${d.kind}`).toBeTypeOf('function');
      expect(() => new Model!(d).validate(), `${d.kind} ${d.metadata.name}`).not.toThrow();
    }
    // The validator is not a rubber stamp: a wrong type and a missing required field are reported.
    const Ds = (await modelOf(find('DaemonSet', 'vxmesh-agent')))!;
    const broken = structuredClone(find('DaemonSet', 'vxmesh-agent'));
    broken.spec.template.spec.hostNetwork = 'yes';
    delete broken.spec.selector;
    expect(() => new Ds(broken).validate()).toThrow(/hostNetwork must be boolean|selector/);
  });

  it('builds an image with every command the agent runs on a node (and the agent checks them at start)', () => {
    const dockerfile = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const installed = new Set(/apt-get install[^\n]*(?:\\\n[^\n]*)*/.exec(runtime)![0].split(/\s+/).filter((w) => /^[a-z0-9][a-z0-9.+-]+$/.test(w)));
    const ESSENTIAL = new Set(['mount']); // in every Debian image
    for (const [tool, t] of Object.entries(NODE_TOOLS)) expect(installed.has(t.pkg) || ESSENTIAL.has(t.pkg), `${tool}: package ${t.pkg} not installed by the image`).toBe(true);
    // Every command the node-side code runs is in the table (scan: run(['cmd', …]), Change{tool}, the dnsmasq argv).
    const used = new Set<string>();
    const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
    for (const f of ['agent', 'dataplane', 'sources', 'util', 'intent'].flatMap((d) => walk(join(SRC, d)))) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/run\(\[\s*'([a-z0-9-]+)'/g)) used.add(m[1]!);
      for (const m of text.matchAll(/tool: '([a-z]+)'/g)) used.add(m[1] === 'netns' ? 'ip' : m[1]!);
      for (const m of text.matchAll(/argv = \[\s*'([a-z0-9-]+)'/g)) used.add(m[1]!);
    }
    expect(used.size).toBeGreaterThanOrEqual(6);
    for (const tool of used) expect(NODE_TOOLS[tool], `the agent runs \`${tool}\`: add it to NODE_TOOLS (src/agent/preflight.ts) and the image`).toBeDefined();
  });
});
