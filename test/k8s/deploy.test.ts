/**
 * deploy/ against a real kube-apiserver: `kubectl apply -k deploy/` creates every object, a second apply
 * changes nothing, every CRD is Established, and every rule the CRDs carry — each schema constraint
 * and each CEL rule, transition rules included — is tried with the object a user gets wrong and refused by
 * the API server (422, naming the field), next to the corrected object, which is accepted. The static
 * checks that need no server (the kustomization lists every file, the CRDs are regenerated from zod, the
 * pod specs mount what the README says, the image carries what the agent runs) stay here too.
 * The admission policy and RBAC are proven with real ServiceAccount tokens in rbac.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NODE_TOOLS } from '../../src/agent/preflight.js';
import { renderCrdFiles } from '../../src/model/crd-yaml.js';
import { CEL, CRD_SPECS, crdFiles, type CelRule } from '../../src/model/crds.js';
import type { JsonSchema } from '../../src/model/openapi.js';
import { parseDocuments } from '../../src/sources/validate.js';
import { apiCaller, objectPath, statusText, type ApiAnswer, type ApiCall } from './api-call.js';
import { ensureNamespace, startKube, type Kube } from './helpers.js';
import { REFUSAL, enumerateViolations, type Violation } from './schema-violations.js';

const DEPLOY = new URL('../../deploy/', import.meta.url).pathname;
const SRC = new URL('../../src/', import.meta.url).pathname;
const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;
const EXAMPLES = new URL('../../examples/', import.meta.url).pathname;
const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const API = 'network.vxmesh.io/v1alpha1';

type Doc = Record<string, any>;
const load = (file: string): Doc[] => YAML.parseAllDocuments(readFileSync(join(DEPLOY, file), 'utf8')).map((d) => d.toJS()).filter(Boolean);
const kustomization = load('kustomization.yaml')[0]!;
const docs: Doc[] = (kustomization.resources as string[]).flatMap(load);
const find = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata?.name === name)!;
const crdOf = (kind: string): Doc => docs.find((d) => d.kind === 'CustomResourceDefinition' && d.spec.names.kind === kind)!;
const schemaOf = (kind: string): JsonSchema => crdOf(kind).spec.versions[0].schema.openAPIV3Schema;
const specOf = (kind: string) => CRD_SPECS.find((s) => s.kind === kind)!;
const podSpec = (kind: string, name: string) => find(kind, name).spec.template.spec;
const CLUSTER_SCOPED = new Set(['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding']);
const NS = 'tenant-a';

/** A valid object of each kind with every optional field set, so that every constraint of its schema is reached. */
const FULL: Record<string, Doc> = {
  VxlanConfig: {
    apiVersion: API, kind: 'VxlanConfig', metadata: { name: 'full' },
    spec: {
      clusterNetwork: 'overlay', nodeSelector: { matchLabels: { 'vxmesh.io/overlay': 'true' } },
      uplink: { nics: ['eth1', 'eth2'], linkAttributes: { mtu: 9000 }, bondOptions: { mode: '802.3ad', miimon: 100 } },
      networksPerNamespace: 16, port: 4789, vtep: { addressFrom: 'static', addresses: { node1: '198.18.0.11' } },
    },
  },
  VxlanNetwork: {
    apiVersion: API, kind: 'VxlanNetwork', metadata: { name: 'full', namespace: NS },
    spec: {
      clusterNetwork: 'overlay', vni: 100, cidr: '10.10.0.0/24', gateway: '10.10.0.1', excludeIPs: ['10.10.0.9', '10.10.0.64/28'],
      natOutgoing: true, mtu: 1450, dhcp: true, dns: { servers: ['10.10.0.1'], search: ['example.org'] }, leaseTime: 3600, allowedNamespaces: ['tenant-b'],
    },
    status: {
      conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'attachment ready', lastTransitionTime: '2026-12-01T00:00:00Z', observedGeneration: 1 }],
      allocatedIPs: 3, observedGeneration: 1,
    },
  },
  VxlanIPAllocation: {
    apiVersion: API, kind: 'VxlanIPAllocation', metadata: { name: 'vm1.nic1', namespace: NS },
    spec: { network: `${NS}/full`, vm: 'vm1', interface: 'nic1', ip: '10.10.0.5', mac: '02:00:00:00:00:01' },
  },
  VxlanIPClaim: {
    apiVersion: API, kind: 'VxlanIPClaim', metadata: { name: `${NS}.full.10.10.0.5` },
    spec: { network: `${NS}/full`, ip: '10.10.0.5', owner: { namespace: NS, vm: 'vm1', interface: 'nic1' } },
  },
  VxlanStatus: {
    apiVersion: API, kind: 'VxlanStatus', metadata: { name: 'overlay.node1' },
    status: {
      clusterNetwork: 'overlay', node: 'node1', vtepIP: '198.18.0.11', mode: 'bpf', ready: true, message: 'converged', lastReconcile: '2026-12-01T00:00:00Z',
      conditions: [{ type: 'Ready', status: 'True', reason: 'Converged', message: 'ok', lastTransitionTime: '2026-12-01T00:00:00Z' }],
    },
  },
};

describe('deploy/ manifests', () => {
  it('lists every manifest in the kustomization, each in vxmesh-system unless cluster-scoped', () => {
    const files = readdirSync(DEPLOY).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    const crds = readdirSync(join(DEPLOY, 'crds')).map((f) => `crds/${f}`);
    expect([...kustomization.resources].sort()).toEqual([...files, ...crds].sort());
    for (const d of docs) {
      if (CLUSTER_SCOPED.has(d.kind)) expect(d.metadata.namespace, `${d.kind} ${d.metadata.name}`).toBeUndefined();
      else expect(d.metadata.namespace, `${d.kind} ${d.metadata.name}`).toBe('vxmesh-system');
    }
  });

  it('ships CRDs generated from the current zod schemas', () => {
    for (const [file, text] of renderCrdFiles()) expect(readFileSync(join(DEPLOY, 'crds', file), 'utf8'), `deploy/crds/${file} is stale: run node build/gen-crds.mjs`).toBe(text);
    expect(crdFiles().size).toBe(5);
  });

  it('binds every Role and ClusterRole it ships to a ServiceAccount it ships (the server accepts dangling references)', () => {
    for (const b of docs.filter((d) => d.kind === 'RoleBinding' || d.kind === 'ClusterRoleBinding')) {
      expect(find(b.roleRef.kind, b.roleRef.name), `${b.kind} ${b.metadata.name}`).toBeDefined();
      for (const s of b.subjects) expect(find('ServiceAccount', s.name), `${b.kind} ${b.metadata.name} subject ${s.name}`).toBeDefined();
    }
  });

  it('runs the agent on every node: privileged, host network, bpffs, /run/netns and /run/vxmesh-dhcp only (not all of /run), node name, probes and limits', () => {
    const ds = find('DaemonSet', 'vxmesh-agent');
    const spec = podSpec('DaemonSet', 'vxmesh-agent');
    expect(ds.spec.selector.matchLabels).toEqual(expect.objectContaining({ 'app.kubernetes.io/name': 'vxmesh-agent' }));
    expect(ds.spec.template.metadata.labels).toMatchObject(ds.spec.selector.matchLabels);
    expect(spec).toMatchObject({ hostNetwork: true, serviceAccountName: 'vxmesh-agent', tolerations: [{ operator: 'Exists' }] });
    expect(spec.hostPID).toBeFalsy();
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

  it("installs the CNI plugin into the host's CNI bin dir before the agent starts: the image's Go binary, copied under a temporary name and renamed", () => {
    const spec = podSpec('DaemonSet', 'vxmesh-agent');
    expect(spec.initContainers.map((c: Doc) => c.name)).toEqual(['install-cni']);
    const init = spec.initContainers[0];
    expect(init.image).toBe(spec.containers[0].image);
    const volumes = Object.fromEntries(spec.volumes.map((v: Doc) => [v.name, v.hostPath?.path]));
    const mount = init.volumeMounts.find((m: Doc) => volumes[m.name] === '/opt/cni/bin'); // Harvester's Multus looks there
    expect(mount, 'the init container mounts the host CNI bin dir').toBeDefined();
    expect(spec.containers[0].volumeMounts.map((m: Doc) => m.name)).not.toContain(mount.name); // the agent itself does not
    // Where the image has the plugin: the final stage's WORKDIR + the COPY from the Go stage, which runs build/cni-plugin.sh.
    const dockerfile = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const workdir = /^WORKDIR (\S+)$/m.exec(runtime)![1]!;
    const copy = /^COPY --from=(\S+) \S+\/vxmesh-cni (\S+)$/m.exec(runtime)!;
    expect(dockerfile).toMatch(new RegExp(`^FROM golang:\\S+ AS ${copy[1]}\\n(?:.*\\n)*?RUN .*bash build/cni-plugin.sh$`, 'm'));
    const inImage = join(workdir, copy[2]!);
    expect(inImage).toBe('/opt/vxmesh/cni/vxmesh-cni');
    // The command: cp to a temporary name in the same directory, then rename onto the final name (atomic).
    expect(init.command.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    const script: string = init.command[2];
    const dir = mount.mountPath;
    const steps = script.split('&&').map((x: string) => x.trim());
    const tmp = /^cp (\S+) (\S+)$/.exec(steps[0])!;
    expect(tmp[1]).toBe(inImage);
    expect(tmp[2]!.startsWith(`${dir}/`) && tmp[2] !== `${dir}/vxmesh-cni`).toBe(true);
    expect(steps.at(-1)).toBe(`mv -f ${tmp[2]} ${dir}/vxmesh-cni`);
    expect(script.split(`${dir}/vxmesh-cni`).length - 1, 'the final name is written only by the rename').toBe(1);
  });

  it('the install script, run by /bin/sh with its two directories mapped to temporary ones, replaces the plugin by rename: an open old plugin keeps its bytes (control: copying in place changes them)', () => {
    const spec = podSpec('DaemonSet', 'vxmesh-agent');
    const init = spec.initContainers[0];
    const hostDir: string = init.volumeMounts[0].mountPath;
    const source = /^cp (\S+) /.exec(init.command[2])![1]!;
    const root = mkdtempSync(join(tmpdir(), 'vxm-cni-install-'));
    try {
      const image = join(root, 'image');
      const host = join(root, 'host');
      for (const d of [image, host]) mkdirSync(d);
      const plugin = join(host, 'vxmesh-cni');
      const script = init.command[2].replaceAll(dirname(source), image).replaceAll(hostDir, host);
      writeFileSync(join(image, basename(source)), 'new plugin');
      writeFileSync(plugin, 'old plugin');
      const running = openSync(plugin, 'r'); // a runtime executing the old plugin
      execFileSync(init.command[0], [init.command[1], script]);
      expect(readFileSync(plugin, 'utf8')).toBe('new plugin');
      expect(statSync(plugin).mode & 0o777).toBe(0o755);
      expect(readdirSync(host)).toEqual(['vxmesh-cni']); // no temporary file left behind
      expect(readFileSync(running, 'utf8')).toBe('old plugin');
      closeSync(running);
      // Control: the same check sees an in-place copy.
      const open = openSync(plugin, 'r');
      writeFileSync(join(image, basename(source)), 'other plugin');
      execFileSync('cp', [join(image, basename(source)), plugin]);
      expect(readFileSync(open, 'utf8')).toBe('other plugin');
      closeSync(open);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
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

  it('the README\'s validation list quotes every CEL rule of the CRDs', () => {
    const section = README.slice(README.indexOf('### Validation rules'));
    expect(section.length).toBeLessThan(README.length);
    for (const r of Object.values(CEL) as CelRule[]) expect(section, `README lists "${r.message}"`).toContain(r.message);
  });
});

/** The wire path of `o` (its collection when `collection`). */
const pathOf = (o: Doc, opts: { collection?: boolean; subresource?: string; dryRun?: boolean } = {}) => {
  const plural = specOf(o.kind).plural;
  const p = objectPath(o.apiVersion, plural, { namespace: o.metadata.namespace, name: opts.collection ? undefined : o.metadata.name, subresource: opts.subresource });
  return opts.dryRun ? `${p}?dryRun=All` : p;
};

/** Does the refusal name `field` with a message matching `message`? */
const names = (a: ApiAnswer, field: string, message: RegExp | string) =>
  ((a.body?.details?.causes ?? []) as Array<{ field?: string; message?: string }>).some((c) => c.field === field && (typeof message === 'string' ? c.message?.includes(message) : message.test(c.message ?? '')));

describe('deploy/ on a real kube-apiserver', () => {
  let kube: Kube;
  let call: ApiCall;
  let firstApply = '';

  beforeAll(async () => {
    kube = await startKube();
    call = apiCaller(kube.kubeconfigYaml);
    firstApply = kube.kubectl('apply', '-k', DEPLOY);
    kube.kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all');
    await ensureNamespace(kube.client, NS);
  });
  afterAll(async () => {
    await kube?.stop();
  });

  it('kubectl apply -k deploy/ creates or configures every object kustomize renders, and a second apply changes none', () => {
    const rendered = YAML.parseAllDocuments(kube.kubectl('kustomize', DEPLOY)).map((d) => d.toJS() as Doc).filter(Boolean);
    expect(rendered).toHaveLength(docs.length);
    // startKube applied deploy/crds before: those five are "unchanged" or "configured", everything else "created".
    const lines = firstApply.trim().split('\n');
    expect(lines).toHaveLength(rendered.length);
    for (const l of lines) expect(l, firstApply).toMatch(/ (created|unchanged|configured)$/);
    for (const o of rendered) {
      const got = JSON.parse(kube.kubectl('get', `${o.kind.toLowerCase()}.${o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : ''}`.replace(/\.$/, ''), o.metadata.name, '-o', 'json', ...(o.metadata.namespace ? ['-n', o.metadata.namespace] : [])));
      expect(got.metadata.name).toBe(o.metadata.name);
    }
    // Idempotent: nothing the server defaults or drops differs from what deploy/ says (a GitOps tool would
    // otherwise report drift forever). The real server found three such fields the double had kept.
    const again = kube.kubectl('apply', '-k', DEPLOY).trim().split('\n');
    expect(again.filter((l) => !l.endsWith(' unchanged'))).toEqual([]);
    expect(again).toHaveLength(rendered.length);
  });

  it('establishes every CRD with structural schemas the server accepted as generated', () => {
    const crds = JSON.parse(kube.kubectl('get', 'crd', '-l', 'app.kubernetes.io/part-of=vxmesh', '-o', 'json')).items as Doc[];
    expect(crds.map((c) => c.spec.names.kind).sort()).toEqual(CRD_SPECS.map((s) => s.kind).sort());
    for (const c of crds) {
      const cond = Object.fromEntries((c.status.conditions as Doc[]).map((x) => [x.type, x.status]));
      expect(cond, c.metadata.name).toMatchObject({ Established: 'True', NamesAccepted: 'True' });
      expect(cond.NonStructuralSchema, c.metadata.name).toBeUndefined();
      // Stored as shipped: no field of the schema (rules included) was dropped or rewritten.
      expect(c.spec.versions[0].schema, c.metadata.name).toEqual(crdOf(c.spec.names.kind).spec.versions[0].schema);
    }
  });

  it('accepts the vxmesh objects of the test fixtures and examples', async () => {
    const files = [join(FIXTURES, 'two-tenants.yaml'), join(FIXTURES, 'k8s-base.yaml'), ...(existsSync(EXAMPLES) ? readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml')).map((f) => join(EXAMPLES, f)) : [])];
    let n = 0;
    for (const file of files) {
      for (const d of parseDocuments(readFileSync(file, 'utf8'), file).docs as Doc[]) {
        if (d.apiVersion !== API || d.kind === 'Lab') continue;
        const o = { ...d, metadata: { ...d.metadata, ...(specOf(d.kind).scope === 'Namespaced' ? { namespace: d.metadata.namespace ?? 'default' } : {}) } };
        if (o.metadata.namespace) await ensureNamespace(kube.client, o.metadata.namespace);
        const r = await call('POST', pathOf(o, { collection: true, dryRun: true }), o);
        expect(r.code, `${file}: ${d.kind} ${d.metadata.name}: ${statusText(r)}`).toBe(201);
        n++;
      }
    }
    expect(n).toBeGreaterThanOrEqual(10);
  });

  it('defaults what the zod schemas default, exactly', async () => {
    const minimal: Doc[] = [
      { apiVersion: API, kind: 'VxlanConfig', metadata: { name: 'minimal' }, spec: { clusterNetwork: 'overlay', uplink: { nics: ['eth1'] } } },
      { apiVersion: API, kind: 'VxlanNetwork', metadata: { name: 'minimal', namespace: NS }, spec: { clusterNetwork: 'overlay', vni: 7, cidr: '10.7.0.0/24' } },
      { apiVersion: API, kind: 'VxlanIPAllocation', metadata: { name: 'minimal', namespace: NS }, spec: { network: `${NS}/minimal`, vm: 'vm1', interface: 'nic1', ip: '10.7.0.2' } },
    ];
    for (const m of minimal) {
      const r = await call('POST', pathOf(m, { collection: true, dryRun: true }), m);
      expect(r.code, statusText(r)).toBe(201);
      expect(r.body.spec, m.kind).toEqual((specOf(m.kind).schema.parse(m) as Doc).spec);
    }
  });

  /** Every schema constraint of every CRD: one wrong field each, refused with 422 naming it; the full object is the positive control. */
  it.each(CRD_SPECS.map((s) => s.kind))('%s: every schema constraint (type, pattern, length, bounds, enum, items, required) is refused with 422 naming the field', async (kind) => {
    const full = FULL[kind]!;
    const { violations, unreached } = enumerateViolations(schemaOf(kind), full);
    expect(unreached, `the example ${kind} reaches every constraint`).toEqual([]);
    const spec = specOf(kind);
    const onStatus = (v: Violation) => spec.statusSubresource && v.section === 'status';
    // Positive control: the full object is accepted (its status through the status subresource).
    const created = await call('POST', pathOf(full, { collection: true, dryRun: !spec.statusSubresource }), full);
    expect(created.code, statusText(created)).toBe(201);
    if (spec.statusSubresource) {
      const put = await call('PUT', pathOf(full, { subresource: 'status' }), { ...created.body, status: full.status });
      expect(put.code, statusText(put)).toBe(200);
      expect(put.body.status).toEqual(full.status);
    }
    const current = spec.statusSubresource ? (await call('GET', pathOf(full))).body : undefined;
    const failures: string[] = [];
    for (const v of violations) {
      const r = onStatus(v)
        ? await call('PUT', `${pathOf(full, { subresource: 'status' })}?dryRun=All`, { ...current, status: v.object.status })
        : await call('POST', pathOf(v.object, { collection: true, dryRun: true }), v.object);
      if (r.code !== 422 || r.body?.reason !== 'Invalid' || !names(r, v.field, REFUSAL[v.keyword]))
        failures.push(`${v.field} ${v.keyword} ${JSON.stringify(v.value)?.slice(0, 40)}: HTTP ${r.code} ${statusText(r).slice(0, 300)}`);
    }
    expect(failures).toEqual([]);
    expect(violations.length).toBeGreaterThanOrEqual(kind === 'VxlanIPClaim' ? 8 : 10);
    if (spec.statusSubresource) await call('DELETE', pathOf(full));
  });

  /** A CEL rule: the object a user gets wrong, refused naming the field; the corrected one accepted. */
  interface CelCase {
    rule: CelRule;
    title: string;
    /** For transition rules: the stored object the change is made to. */
    before?: Doc;
    good: Doc;
    bad: Doc;
    field: string;
    /** Write through the status subresource. */
    status?: boolean;
  }
  const net = (spec: Doc, name = 'cel') => ({ apiVersion: API, kind: 'VxlanNetwork', metadata: { name, namespace: NS }, spec: { clusterNetwork: 'overlay', vni: 300, cidr: '10.30.0.0/24', ...spec } });
  const cfg = (spec: Doc) => ({ apiVersion: API, kind: 'VxlanConfig', metadata: { name: 'cel' }, spec: { clusterNetwork: 'overlay', uplink: { nics: ['eth1'] }, ...spec } });
  const claim = FULL.VxlanIPClaim!;
  const status = (node: string) => ({ ...FULL.VxlanStatus!, metadata: { name: 'overlay.node1' }, status: { clusterNetwork: 'overlay', node, ready: true } });
  const CASES: CelCase[] = [
    { rule: CEL.configNotMgmt, title: 'a VxlanConfig on mgmt', bad: cfg({ clusterNetwork: 'mgmt' }), good: cfg({ clusterNetwork: 'overlay' }), field: 'spec.clusterNetwork' },
    { rule: CEL.staticVteps, title: 'static VTEPs without addresses', bad: cfg({ vtep: { addressFrom: 'static' } }), good: cfg({ vtep: { addressFrom: 'static', addresses: { node1: '198.18.0.11' } } }), field: 'spec.vtep.addresses' },
    { rule: CEL.staticVteps, title: 'static VTEPs with an empty address map', bad: cfg({ vtep: { addressFrom: 'static', addresses: {} } }), good: cfg({ vtep: { addressFrom: 'uplink', addresses: {} } }), field: 'spec.vtep.addresses' },
    { rule: CEL.networkNotMgmt, title: 'a VxlanNetwork on mgmt', bad: net({ clusterNetwork: 'mgmt' }), good: net({ clusterNetwork: 'overlay' }), field: 'spec.clusterNetwork' },
    { rule: CEL.cidrCanonical, title: 'a CIDR with host bits set', bad: net({ cidr: '10.30.0.7/24' }), good: net({ cidr: '10.30.0.0/24' }), field: 'spec.cidr' },
    { rule: CEL.cidrSize, title: 'a /31', bad: net({ cidr: '10.30.0.0/31' }), good: net({ cidr: '10.30.0.0/30' }), field: 'spec.cidr' },
    { rule: CEL.cidrSize, title: 'a /32', bad: net({ cidr: '10.30.0.4/32' }), good: net({ cidr: '10.30.0.4/30' }), field: 'spec.cidr' },
    { rule: CEL.gatewayInCidr, title: 'a gateway outside the CIDR', bad: net({ gateway: '10.31.0.1' }), good: net({ gateway: '10.30.0.254' }), field: 'spec.gateway' },
    { rule: CEL.gatewayInCidr, title: 'a gateway one past the CIDR', bad: net({ cidr: '10.30.0.0/25', gateway: '10.30.0.128' }), good: net({ cidr: '10.30.0.0/25', gateway: '10.30.0.126' }), field: 'spec.gateway' },
    { rule: CEL.vniImmutable, title: 'a VNI changed', before: net({}, 'moving'), bad: net({ vni: 301 }, 'moving'), good: net({ mtu: 1400, natOutgoing: false, allowedNamespaces: ['tenant-b'] }, 'moving'), field: 'spec.vni' },
    { rule: CEL.clusterNetworkImmutable, title: 'a cluster network changed', before: net({}, 'moving'), bad: net({ clusterNetwork: 'other' }, 'moving'), good: net({ excludeIPs: ['10.30.0.9'] }, 'moving'), field: 'spec.clusterNetwork' },
    { rule: CEL.cidrImmutable, title: 'a CIDR changed', before: net({}, 'moving'), bad: net({ cidr: '10.32.0.0/24' }, 'moving'), good: net({ gateway: '10.30.0.1', leaseTime: 600 }, 'moving'), field: 'spec.cidr' },
    { rule: CEL.ipImmutable, title: 'a claim moved to another address', before: claim, bad: { ...claim, spec: { ...claim.spec, ip: '10.10.0.6' } }, good: { ...claim, metadata: { ...claim.metadata, annotations: { 'network.vxmesh.io/claimed-at': '2026-12-01T00:00:00Z' } } }, field: 'spec' },
    { rule: CEL.ipImmutable, title: 'a claim given to another VM', before: claim, bad: { ...claim, spec: { ...claim.spec, owner: { ...claim.spec.owner, vm: 'vm2' } } }, good: { ...claim, metadata: { ...claim.metadata, labels: { a: 'b' } } }, field: 'spec' },
    { rule: CEL.statusNamed, title: 'a VxlanStatus naming another node than its name', before: status('node1'), bad: status('node2'), good: status('node1'), field: 'status.node', status: true },
  ];

  it('has a case for every CEL rule of the CRDs (and every rule in the CRDs is one of src/model/crds.ts)', () => {
    const all = Object.values(CEL) as CelRule[];
    for (const r of all) expect(CASES.some((c) => c.rule === r), `a case for "${r.message}"`).toBe(true);
    const rulesIn = (s: JsonSchema): CelRule[] => [
      ...(s['x-kubernetes-validations'] ?? []) as CelRule[],
      ...Object.values(s.properties ?? {}).flatMap(rulesIn), ...(s.items ? rulesIn(s.items) : []), ...(s.additionalProperties ? rulesIn(s.additionalProperties) : []),
    ];
    const shipped = CRD_SPECS.flatMap((s) => rulesIn(schemaOf(s.kind)));
    for (const r of shipped) expect(all, r.rule).toContainEqual(r);
    expect(shipped.length).toBeGreaterThanOrEqual(all.length);
  });

  it.each(CASES.map((c) => [c.title, c] as const))('CEL: %s is refused with 422 naming the field, the corrected object accepted', async (_t, c) => {
    const write = async (o: Doc, dryRun: boolean) => {
      if (!c.before) return call('POST', pathOf(o, { collection: true, dryRun }), o);
      const current = (await call('GET', pathOf(o))).body;
      const body = c.status ? { ...current, status: o.status } : { ...o, metadata: { ...o.metadata, resourceVersion: current.metadata.resourceVersion } };
      return call('PUT', `${pathOf(o, { subresource: c.status ? 'status' : undefined })}${dryRun ? '?dryRun=All' : ''}`, body);
    };
    if (c.before) {
      const made = await call('POST', pathOf(c.before, { collection: true }), c.before);
      expect(made.code, statusText(made)).toBe(201);
      if (c.status) expect((await call('PUT', pathOf(c.before, { subresource: 'status' }), { ...made.body, status: c.before.status })).code).toBe(200);
    }
    try {
      const bad = await write(c.bad, true);
      expect(bad.code, statusText(bad)).toBe(422);
      expect(bad.body.reason).toBe('Invalid');
      expect(names(bad, c.field, c.rule.message), statusText(bad)).toBe(true);
      expect(bad.body.message).toContain(c.field);
      const good = await write(c.good, false);
      expect(good.code, statusText(good)).toBe(c.before ? 200 : 201);
    } finally {
      await call('DELETE', pathOf(c.before ?? c.good));
    }
  });
});
