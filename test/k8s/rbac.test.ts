/**
 * Real identities on a real kube-apiserver with deploy/ applied: the agent and the controller as their
 * ServiceAccounts, with tokens from the TokenRequest API — the agent's bound to a Pod on its node, as the
 * kubelet mounts it. Least privilege both ways, from README.md's RBAC table: every cell asked with
 * `kubectl auth can-i --as=…`, every "may" performed with the ServiceAccount's own token and every "may
 * not" refused with 403, nothing granted beyond the table (SelfSubjectRulesReview); the real Kubernetes
 * source and the real controller do their work as these identities without one 403, using only what the
 * table grants (audit log). The admission policy refuses an agent's write of another node's VxlanStatus.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runController } from '../../src/controller/index.js';
import { podBoundToken } from '../../src/controlplane/pod-token.js';
import type { AuditEvent } from '../../src/controlplane/control-plane.js';
import { RESOURCES } from '../../src/k8s/resources.js';
import { createKubernetesSource } from '../../src/sources/kubernetes/index.js';
import { apiCaller, objectPath, statusText, type ApiCall } from './api-call.js';
import { applyFixture, createObject, ensureNamespace, quietLog, startKube, until, vmi, type Kube } from './helpers.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const FIXTURE = new URL('../fixtures/k8s-base.yaml', import.meta.url).pathname;
const SYSTEM = 'vxmesh-system';
const TENANT = 'tenant-a';
const userOf = (sa: string) => `system:serviceaccount:${SYSTEM}:${sa}`;
const AGENT = userOf('vxmesh-agent');
const CONTROLLER = userOf('vxmesh-controller');
const API = 'network.vxmesh.io/v1alpha1';

// ---- README.md's RBAC table -------------------------------------------------------------------------
type Where = 'cluster' | 'all namespaces' | 'vxmesh-system' | 'other namespaces';
interface Resource { resource: string; group: string; subresource?: string; name: string }
interface Row { sa: string; resources: Resource[]; where: Where; may: string[]; mayNot: string[]; line: string }

function parseResource(text: string): Resource {
  const [full, subresource] = text.split('/') as [string, string | undefined];
  const dot = full.indexOf('.');
  return { resource: dot < 0 ? full : full.slice(0, dot), group: dot < 0 ? '' : full.slice(dot + 1), subresource, name: text };
}

/** Pure: the rows of the table under `### RBAC`. */
function rbacTable(readme: string): Row[] {
  const section = readme.slice(readme.indexOf('### RBAC'));
  const lines = section.split('\n').filter((l) => l.startsWith('| vxmesh-'));
  const verbs = (cell: string) => (cell.trim() === '—' ? [] : cell.split(',').map((v) => v.trim()));
  return lines.map((line) => {
    const [sa, resources, where, may, mayNot] = line.split('|').slice(1, 6).map((c) => c.trim()) as [string, string, string, string, string];
    return { sa, resources: [...resources.matchAll(/`([^`]+)`/g)].map((m) => parseResource(m[1]!)), where: where as Where, may: verbs(may), mayNot: verbs(mayNot), line };
  });
}

const ROWS = rbacTable(README);
const key = (sa: string, r: Resource, verb: string) => `${sa} ${verb} ${r.name}`;

/** Where a cell is asked: kubectl flags, and the namespace of a request ('' = cluster-wide). */
function placesOf(where: Where): Array<{ flags: string[]; namespace: string }> {
  switch (where) {
    case 'cluster': return [{ flags: ['-A'], namespace: '' }];
    case 'all namespaces': return [{ flags: ['-A'], namespace: '' }, { flags: ['-n', TENANT], namespace: TENANT }];
    case 'vxmesh-system': return [{ flags: ['-n', SYSTEM], namespace: SYSTEM }];
    case 'other namespaces': return [{ flags: ['-n', 'default'], namespace: 'default' }, { flags: ['-n', TENANT], namespace: TENANT }, { flags: ['-A'], namespace: '' }];
  }
}

const versionOf = (r: Resource) => Object.values(RESOURCES).find((x) => x.plural === r.resource && x.group === r.group)?.version ?? 'v1';
const kindOf = (r: Resource) => Object.values(RESOURCES).find((x) => x.plural === r.resource && x.group === r.group)?.kind
  ?? ({ secrets: 'Secret', pods: 'Pod', serviceaccounts: 'TokenRequest' } as Record<string, string>)[r.resource] ?? 'Unknown';

/**
 * One request that needs exactly `verb` on `r` (dry-run for writes). `name` is the object a named verb acts
 * on; `namespace` '' means cluster-wide (list/watch) or a cluster-scoped kind.
 */
async function perform(call: ApiCall, r: Resource, verb: string, namespace: string, name: string) {
  const apiVersion = r.group ? `${r.group}/${versionOf(r)}` : 'v1';
  const ns = namespace || undefined;
  const collection = objectPath(apiVersion, r.resource, { namespace: ns });
  const one = objectPath(apiVersion, r.resource, { namespace: ns, name: r.subresource === 'token' ? 'vxmesh-agent' : name, subresource: r.subresource });
  const body = { apiVersion, kind: kindOf(r), metadata: { name, ...(ns ? { namespace: ns } : {}) } };
  switch (verb) {
    case 'get': return call('GET', one);
    case 'list': return call('GET', collection);
    case 'watch': return call('GET', `${collection}?watch=1&timeoutSeconds=1`);
    case 'create': return call('POST', r.subresource ? `${one}?dryRun=All` : `${collection}?dryRun=All`, r.subresource === 'token' ? { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: {} } : body);
    case 'update': return call('PUT', `${one}?dryRun=All`, body);
    case 'patch': return call('PATCH', `${one}?dryRun=All`, {});
    case 'delete': return call('DELETE', `${one}?dryRun=All`);
    default: throw new Error(`no request for verb ${verb}`);
  }
}

/** RBAC's refusal (not admission's): 403 naming the verb and the resource. */
const rbacRefused = (a: { code: number; body: any }, verb: string, r: Resource) =>
  a.code === 403 && a.body?.reason === 'Forbidden' && String(a.body?.message).includes(`cannot ${verb} resource "${r.resource}${r.subresource ? `/${r.subresource}` : ''}"`);

const run = promisify(execFile);

describe('RBAC and admission with real ServiceAccount tokens', () => {
  let kube: Kube;
  let admin: ApiCall;
  const as: Record<string, ApiCall> = {};
  let agentKubeconfig: (node: string) => Promise<string>;

  beforeAll(async () => {
    kube = await startKube({ audit: true });
    await kube.applyDeploy();
    admin = apiCaller(kube.kubeconfigYaml);
    for (const ns of [TENANT, 'tenant-b']) await ensureNamespace(kube.client, ns);
    agentKubeconfig = async (node) => kube.cp.tokenKubeconfig(await podBoundToken(kube.cp, { namespace: SYSTEM, serviceAccount: 'vxmesh-agent', node }), AGENT);
    as['vxmesh-agent'] = apiCaller(await agentKubeconfig('node1'));
    as['vxmesh-controller'] = apiCaller(await kube.serviceAccountKubeconfig('vxmesh-controller'));
  });
  afterAll(async () => {
    await kube?.stop();
  });

  it('README.md has an RBAC table for both ServiceAccounts, each row well-formed', () => {
    expect(ROWS.filter((r) => r.sa === 'vxmesh-agent').length).toBeGreaterThanOrEqual(5);
    expect(ROWS.filter((r) => r.sa === 'vxmesh-controller').length).toBeGreaterThanOrEqual(5);
    const VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];
    for (const r of ROWS) {
      expect(['vxmesh-agent', 'vxmesh-controller'], r.line).toContain(r.sa);
      expect(['cluster', 'all namespaces', 'vxmesh-system', 'other namespaces'], r.line).toContain(r.where);
      expect(r.resources.length, r.line).toBeGreaterThan(0);
      for (const v of [...r.may, ...r.mayNot]) expect(VERBS, r.line).toContain(v);
      expect(r.may.filter((v) => r.mayNot.includes(v)), r.line).toEqual([]);
      if (r.where === 'other namespaces') expect(r.may, r.line).toEqual([]);
    }
  });

  it('a token bound to the agent\'s Pod names its node (authentication.kubernetes.io/node-name); an unbound one does not', async () => {
    const review = async (call: ApiCall) => (await call('POST', '/apis/authentication.k8s.io/v1/selfsubjectreviews', { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' })).body.status.userInfo;
    const bound = await review(as['vxmesh-agent']!);
    expect(bound.username).toBe(AGENT);
    expect(bound.extra['authentication.kubernetes.io/node-name']).toEqual(['node1']);
    expect(bound.extra['authentication.kubernetes.io/pod-name']).toEqual(['vxmesh-agent-node1']);
    const unbound = await review(apiCaller(await kube.serviceAccountKubeconfig('vxmesh-agent')));
    expect(unbound.username).toBe(AGENT);
    expect(unbound.extra?.['authentication.kubernetes.io/node-name']).toBeUndefined();
  });

  it('kubectl auth can-i --as=<ServiceAccount> answers every cell of the table as it says', async () => {
    const asks = ROWS.flatMap((row) => row.resources.flatMap((r) => placesOf(row.where).flatMap((p) => [
      ...row.may.map((verb) => ({ row, r, verb, p, want: 'yes' })), ...row.mayNot.map((verb) => ({ row, r, verb, p, want: 'no' })),
    ])));
    const wrong: string[] = [];
    const ask = async (a: (typeof asks)[number]) => {
      const resource = a.r.group ? `${a.r.resource}.${a.r.group}` : a.r.resource;
      const args = ['--kubeconfig', kube.cp.kubeconfigPath, 'auth', 'can-i', a.verb, resource, ...(a.r.subresource ? [`--subresource=${a.r.subresource}`] : []), ...a.p.flags, `--as=${userOf(a.row.sa)}`];
      const answer = await run('kubectl', args).then((r) => r.stdout.trim(), (e: { stdout?: string; stderr?: string }) => (e.stdout ?? '').trim() || `error: ${e.stderr}`);
      if (answer !== a.want) wrong.push(`kubectl ${args.slice(2).join(' ')} → ${answer}, README says ${a.want}`);
    };
    for (let i = 0; i < asks.length; i += 8) await Promise.all(asks.slice(i, i + 8).map(ask));
    expect(wrong).toEqual([]);
    expect(asks.length).toBeGreaterThan(150);
  });

  it('each ServiceAccount\'s own token does every "may" of the table, and gets 403 from RBAC for every "may not"', async () => {
    const wrong: string[] = [];
    const cells = ROWS.flatMap((row) => row.resources.flatMap((r) => placesOf(row.where).flatMap((p) => [
      ...row.may.map((verb) => ({ row, r, verb, p, allowed: true })), ...row.mayNot.map((verb) => ({ row, r, verb, p, allowed: false })),
    ])));
    const one = async (c: (typeof cells)[number]) => {
      // Named verbs on a namespaced kind need a namespace; '' (cluster-wide) is only for list and watch.
      const namespaced = c.row.where !== 'cluster';
      if (namespaced && !c.p.namespace && !['list', 'watch'].includes(c.verb)) return;
      const name = c.r.resource === 'vxlanstatuses' ? 'overlay.node1' : 'rbac-probe';
      const a = await perform(as[c.row.sa]!, c.r, c.verb, c.p.namespace, name);
      const refused = rbacRefused(a, c.verb, c.r);
      if (c.allowed && (a.code === 403 || a.code === 401 || a.code >= 500)) wrong.push(`${key(c.row.sa, c.r, c.verb)} in ${c.p.namespace || 'all'}: HTTP ${a.code} ${statusText(a).slice(0, 200)}`);
      if (!c.allowed && !refused) wrong.push(`${key(c.row.sa, c.r, c.verb)} in ${c.p.namespace || 'all'}: expected RBAC's 403, got HTTP ${a.code} ${statusText(a).slice(0, 200)}`);
    };
    for (let i = 0; i < cells.length; i += 12) await Promise.all(cells.slice(i, i + 12).map(one));
    expect(wrong).toEqual([]);
    // Positive control of the refusals: the admin may do what the agent may not.
    const alloc = ROWS.find((r) => r.sa === 'vxmesh-agent' && r.mayNot.includes('create') && r.resources.some((x) => x.resource === 'vxlanipallocations'))!;
    const res = alloc.resources.find((x) => x.resource === 'vxlanipallocations')!;
    expect((await perform(admin, res, 'list', '', 'rbac-probe')).code).toBe(200);
    expect(rbacRefused(await perform(as['vxmesh-agent']!, res, 'create', TENANT, 'rbac-probe'), 'create', res)).toBe(true);
  });

  it('the server grants each ServiceAccount nothing beyond the table\'s "may" cells (SelfSubjectRulesReview)', async () => {
    const BUILT_IN = new Set(['authorization.k8s.io', 'authentication.k8s.io']); // self-reviews every user may make
    for (const sa of ['vxmesh-agent', 'vxmesh-controller']) {
      for (const ns of [TENANT, SYSTEM]) {
        const r = await as[sa]!('POST', '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews', { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace: ns } });
        expect(r.code, statusText(r)).toBe(201);
        const granted = new Set<string>();
        for (const rule of r.body.status.resourceRules as Array<{ verbs: string[]; apiGroups: string[]; resources: string[]; resourceNames?: string[] }>) {
          if (rule.apiGroups.every((g) => BUILT_IN.has(g))) continue;
          for (const g of rule.apiGroups) for (const res of rule.resources) for (const v of rule.verbs) granted.add(`${v} ${g ? `${res.split('/')[0]}.${g}${res.includes('/') ? `/${res.split('/')[1]}` : ''}` : res}`);
        }
        const expected = new Set(ROWS.filter((row) => row.sa === sa && (row.where === 'cluster' || row.where === 'all namespaces' || row.where === ns))
          .flatMap((row) => row.resources.flatMap((x) => row.may.map((v) => `${v} ${x.name}`))));
        expect([...granted].sort(), `${sa} in ${ns}`).toEqual([...expected].sort());
      }
    }
  });

  it('the real Kubernetes source lists and watches every kind as the agent and publishes its node\'s VxlanStatus; the real controller does its work as vxmesh-controller; neither gets one 403 or uses more than the table grants', async () => {
    await applyFixture(kube.client, FIXTURE);
    // Tokens of their own, so the audit log tells these components' requests from the probes above.
    const agentToken = await podBoundToken(kube.cp, { namespace: SYSTEM, serviceAccount: 'vxmesh-agent', node: 'node1' });
    const controllerToken = await kube.cp.serviceAccountToken(SYSTEM, 'vxmesh-controller');
    const source = createKubernetesSource({ kubeconfigYaml: kube.cp.tokenKubeconfig(agentToken, AGENT), node: 'node1', log: quietLog, minBackoffMs: 50, maxBackoffMs: 400 });
    const controller = await runController({
      kubeconfigYaml: kube.cp.tokenKubeconfig(controllerToken, CONTROLLER), log: quietLog, identity: 'rbac-test', namespace: SYSTEM,
      leaseDurationMs: 1000, renewDeadlineMs: 800, retryPeriodMs: 100, claimGraceMs: 0,
    });
    try {
      await source.start(() => {});
      expect(source.connected()).toBe(true);
      await source.publishStatus({ apiVersion: API, kind: 'VxlanStatus', metadata: { name: 'overlay.node1' }, status: { clusterNetwork: 'overlay', node: 'node1', vtepIP: '198.18.0.11', mode: 'kernel', ready: true } });
      expect((await kube.client.get(RESOURCES.statuses, 'overlay.node1'))?.status).toMatchObject({ node: 'node1', vtepIP: '198.18.0.11' });

      // The controller's writes: NAD, claim, allocation, network status, Lease; an Event for a duplicate VNI;
      // a NAD edited by hand put back (update); a VM's address released (deletes); a network's NAD removed.
      await createObject(kube.client, vmi('vm1', TENANT, 'blue', '02:00:00:00:01:01', 'node1'));
      const alloc = await until('vm1 allocated', () => kube.client.get(RESOURCES.allocations, 'vm1.nic1', TENANT), 20_000);
      await until('the source sees the allocation', () => source.current().snapshot.allocations.some((a) => a.metadata.name === 'vm1.nic1'));
      await until('blue Ready', async () => (await kube.client.get(RESOURCES.vxlanNetworks, 'blue', TENANT))?.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'));
      await createObject(kube.client, { apiVersion: API, kind: 'VxlanNetwork', metadata: { name: 'green', namespace: TENANT }, spec: { clusterNetwork: 'overlay', vni: 100, cidr: '10.20.0.0/24' } });
      await until('a Warning Event about green', async () => {
        const events = JSON.parse(kube.kubectl('get', 'events', '-n', TENANT, '-o', 'json')).items as Array<Record<string, any>>;
        return events.find((e) => e.involvedObject?.name === 'green' && e.reason === 'InvalidSpec' && e.type === 'Warning');
      });
      const nad = (await kube.client.get(RESOURCES.nads, 'blue', TENANT))!;
      await kube.client.replace(RESOURCES.nads, { ...nad, spec: { config: '{"cniVersion":"0.3.1","type":"bridge","bridge":"edited"}' } });
      await until('NAD blue put back', async () => !(await kube.client.get(RESOURCES.nads, 'blue', TENANT))?.spec.config.includes('edited'));
      await kube.client.delete(RESOURCES.vmis, 'vm1', TENANT);
      await until('vm1 released', async () => !(await kube.client.get(RESOURCES.allocations, 'vm1.nic1', TENANT)) && !(await kube.client.get(RESOURCES.claims, `${TENANT}.blue.${alloc.spec.ip}`)), 20_000);
      await kube.client.delete(RESOURCES.vxlanNetworks, 'red', 'tenant-b');
      await until('NAD red removed', async () => !(await kube.client.get(RESOURCES.nads, 'red', 'tenant-b')), 20_000);
    } finally {
      await controller.stop();
      await source.stop();
    }

    const events = kube.cp.auditEvents();
    const cellOf = (e: AuditEvent) => {
      const ref = e.objectRef as AuditEvent['objectRef'] & { apiGroup?: string };
      const name = `${ref?.resource}${ref?.apiGroup ? `.${ref.apiGroup}` : ''}${ref?.subresource ? `/${ref.subresource}` : ''}`;
      return { name, namespace: ref?.namespace ?? '' };
    };
    const granted = (sa: string, verb: string, name: string, namespace: string) => ROWS.some((row) => row.sa === sa && row.may.includes(verb) && row.resources.some((r) => r.name === name)
      && (row.where === 'cluster' || row.where === 'all namespaces' || row.where === namespace));
    const credential = (e: AuditEvent) => (e.user as { extra?: Record<string, string[]> }).extra?.['authentication.kubernetes.io/credential-id']?.[0];
    for (const [sa, token] of [['vxmesh-agent', agentToken], ['vxmesh-controller', controllerToken]] as const) {
      const jti = (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;
      const mine = events.filter((e) => credential(e) === `JTI=${jti}` && e.objectRef?.resource);
      expect(mine.every((e) => e.user.username === userOf(sa))).toBe(true);
      const used = new Set(mine.map((e) => `${e.verb} ${cellOf(e).name}`));
      expect(mine.filter((e) => e.responseStatus?.code === 403).map((e) => `${e.verb} ${e.requestURI}`), `${sa} refused`).toEqual([]);
      expect(mine.filter((e) => !granted(sa, e.verb, cellOf(e).name, cellOf(e).namespace)).map((e) => `${e.verb} ${e.requestURI}`), `${sa} used what the table does not grant`).toEqual([]);
      // What each did is what the table says it needs (the writes at least).
      if (sa === 'vxmesh-agent') for (const w of ['list nodes', 'watch vxlannetworks.network.vxmesh.io', 'create vxlanstatuses.network.vxmesh.io', 'update vxlanstatuses.network.vxmesh.io/status']) expect([...used], sa).toContain(w);
      else for (const w of ['create network-attachment-definitions.k8s.cni.cncf.io', 'update network-attachment-definitions.k8s.cni.cncf.io', 'delete network-attachment-definitions.k8s.cni.cncf.io',
        'create vxlanipclaims.network.vxmesh.io', 'delete vxlanipclaims.network.vxmesh.io', 'create vxlanipallocations.network.vxmesh.io', 'delete vxlanipallocations.network.vxmesh.io',
        'update vxlannetworks.network.vxmesh.io/status', 'create events', 'get leases.coordination.k8s.io', 'create leases.coordination.k8s.io', 'update leases.coordination.k8s.io']) expect([...used], sa).toContain(w);
    }
  });

  describe('the admission policy vxmesh-agent-own-status', () => {
    const status = (name: string, node: string, clusterNetwork = 'overlay') => ({ apiVersion: API, kind: 'VxlanStatus', metadata: { name }, status: { clusterNetwork, node, vtepIP: '198.18.0.66', ready: true } });
    const path = (name?: string, subresource?: string) => objectPath(API, 'vxlanstatuses', { name, subresource });
    /** Create (status is dropped on create: status subresource), then PUT the status, as the agent does. */
    const publish = async (call: ApiCall, o: ReturnType<typeof status>) => {
      const created = await call('POST', path(), { ...o, status: undefined });
      if (created.code !== 201 && created.code !== 409) return created;
      const current = (await admin('GET', path(o.metadata.name))).body;
      return call('PUT', path(o.metadata.name, 'status'), { ...current, status: o.status });
    };

    it('lets an agent create and write its own node\'s VxlanStatus, and refuses another node\'s with 403 naming metadata.name', async () => {
      const node1 = as['vxmesh-agent']!;
      const node2 = apiCaller(await agentKubeconfig('node2'));
      // Positive controls: each agent its own.
      expect((await publish(node1, status('vap.node1', 'node1', 'vap'))).code).toBe(200);
      expect((await publish(node2, status('vap.node2', 'node2', 'vap'))).code).toBe(200);
      // node1's agent creating node2's object.
      const create = await node1('POST', path(), { apiVersion: API, kind: 'VxlanStatus', metadata: { name: 'other.node2' } });
      expect(create.code, statusText(create)).toBe(403);
      expect(create.body.reason).toBe('Forbidden');
      expect(create.body.message).toContain('ValidatingAdmissionPolicy \'vxmesh-agent-own-status\'');
      expect(create.body.message).toContain('metadata.name: other.node2 is not a VxlanStatus of node node1');
      // node1's agent overwriting node2's status (the object exists, written by node2).
      const current = (await admin('GET', path('vap.node2'))).body;
      const overwrite = await node1('PUT', path('vap.node2', 'status'), { ...current, status: { ...current.status, vtepIP: '198.18.0.99' } });
      expect(overwrite.code, statusText(overwrite)).toBe(403);
      expect(overwrite.body.message).toContain('an agent may only write the VxlanStatus of its own node');
      expect((await admin('GET', path('vap.node2'))).body.status.vtepIP).toBe('198.18.0.66');
      // The admin is not an agent (matchConditions): it may write any node's status.
      expect((await publish(admin, status('admin.node2', 'node2', 'admin'))).code).toBe(200);
    });

    it('refuses an agent\'s status.node of another node under a name that ends in its own (403 naming status.node)', async () => {
      // `x.node1` is another node whose name ends in `.node1`: name overlay.x.node1 passes the name check
      // for node1 and the CRD's naming rule; only status.node gives it away.
      const node1 = as['vxmesh-agent']!;
      const bad = await publish(node1, status('overlay.x.node1', 'x.node1'));
      expect(bad.code, statusText(bad)).toBe(403);
      expect(bad.body.message).toContain('status.node: x.node1 is not node1: an agent may only publish status.node (and so a VTEP) of its own node');
      // Positive control: the agent of node x.node1 may.
      const xnode = apiCaller(await agentKubeconfig('x.node1'));
      expect((await publish(xnode, status('overlay.x.node1', 'x.node1'))).code).toBe(200);
    });

    it('does not narrow a token that names no node (not the kubelet\'s): such an agent token may write any node\'s status, as the README says', async () => {
      const unbound = apiCaller(await kube.serviceAccountKubeconfig('vxmesh-agent'));
      const r = await publish(unbound, status('unbound.node7', 'node7', 'unbound'));
      expect(r.code, statusText(r)).toBe(200);
      expect(README).toContain('a token not bound to a pod (`kubectl create token vxmesh-agent` without');
    });

    it('the controller may not write a node\'s VxlanStatus at all (RBAC, 403)', async () => {
      const controller = as['vxmesh-controller']!;
      const create = await controller('POST', path(), { apiVersion: API, kind: 'VxlanStatus', metadata: { name: 'overlay.node3' } });
      expect(create.code).toBe(403);
      expect(create.body.message).toContain('cannot create resource "vxlanstatuses" in API group "network.vxmesh.io"');
      const current = (await admin('GET', path('vap.node1'))).body;
      const write = await controller('PUT', path('vap.node1', 'status'), current);
      expect(write.code).toBe(403);
      expect(write.body.message).toContain('cannot update resource "vxlanstatuses/status"');
    });
  });
});
