/**
 * deploy/chart with the real helm (built from helm.sh/helm/v3 by build/kube-tools.sh): `helm lint`, `helm template`
 * with the default values (= deploy/'s kustomize files, generated from it) and with the values Harvester add-ons
 * set (registry prefix, tolerations, monitoring on); every rendered object, the Harvester Addon manifest and the
 * monitoring objects (ServiceMonitor, PrometheusRule on the real prometheus-operator CRDs, the Addon on Harvester's
 * own CRD) applied with the real kubectl to a real kube-apiserver; the alert rules checked and unit-tested with
 * promtool; every metric the rules and the dashboard query is exported by vxmesh's registries, the controller's
 * from a real scrape of a controller running as the chart's ServiceAccount.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML, { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runController, type Controller } from '../../src/controller/index.js';
import { CHART_DIR, helm, helmTemplate, renderDeployFiles, splitBySource } from '../../src/deploy/chart.js';
import { RESOURCES } from '../../src/k8s/resources.js';
import { agentMetrics, controllerMetrics } from '../../src/metrics/index.js';
import { applyFixture, createObject, quietLog, startKube, until, vmi, type Kube } from './helpers.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const DEPLOY = path.join(ROOT, 'deploy');
const ADDON = path.join(DEPLOY, 'harvester/vxmesh.yaml');
const FIXTURE = path.join(ROOT, 'test/fixtures/k8s-base.yaml');
const MONITORING = ['serviceMonitor.enabled=true', 'prometheusRule.enabled=true', 'grafanaDashboards.enabled=true'];

type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; spec?: any; data?: any };
const objects = (yaml: string): Obj[] => parseAllDocuments(yaml).map((d) => d.toJS() as Obj).filter(Boolean);
const find = (objs: Obj[], kind: string, name?: string) => objs.filter((o) => o.kind === kind && (!name || o.metadata.name === name));
const one = (objs: Obj[], kind: string, name: string) => {
  const o = find(objs, kind, name);
  expect(o, `${kind} ${name}`).toHaveLength(1);
  return o[0]!;
};
const podSpec = (objs: Obj[], kind: 'DaemonSet' | 'Deployment') => one(objs, kind, kind === 'DaemonSet' ? 'vxmesh-agent' : 'vxmesh-controller').spec.template.spec;
const images = (objs: Obj[]) => (['DaemonSet', 'Deployment'] as const).map((k) => podSpec(objs, k).containers[0].image);
const addonDocs = () => objects(readFileSync(ADDON, 'utf8'));
const chartYaml = () => YAML.parse(readFileSync(path.join(CHART_DIR, 'Chart.yaml'), 'utf8'));

describe('deploy/chart: helm lint and helm template', () => {
  it('helm lint passes with the default values and with monitoring on; a broken template fails it', () => {
    for (const set of [[], MONITORING]) {
      const r = helm(['lint', CHART_DIR, '--strict', ...set.flatMap((s) => ['--set', s])]);
      expect(r.stdout + r.stderr, set.join(',')).toContain('1 chart(s) linted, 0 chart(s) failed');
      expect(r.status).toBe(0);
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'vxm-chart-'));
    try {
      cpSync(CHART_DIR, dir, { recursive: true, dereference: true });
      writeFileSync(path.join(dir, 'templates/broken.yaml'), 'kind: ConfigMap\nmetadata: {{ .Values.nope.missing }\n');
      const r = helm(['lint', dir]);
      expect(r.status).not.toBe(0);
      expect(r.stdout + r.stderr).toContain('templates/broken.yaml');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the default rendering is exactly deploy/\'s kustomize files (one source: the chart), and a changed value changes them', () => {
    const files = renderDeployFiles();
    expect([...files.keys()].sort()).toEqual(['admission-policy.yaml', 'agent-daemonset.yaml', 'controller-deployment.yaml', 'rbac-agent.yaml', 'rbac-controller.yaml']);
    for (const [file, text] of files) expect(readFileSync(path.join(DEPLOY, file), 'utf8'), `deploy/${file} drifted from deploy/chart: run node build/gen-deploy.mjs`).toBe(text);
    const kustomization = YAML.parse(readFileSync(path.join(DEPLOY, 'kustomization.yaml'), 'utf8'));
    for (const file of files.keys()) expect(kustomization.resources).toContain(file);
    // Positive control: the comparison sees a change of one value.
    const debug = splitBySource(helmTemplate({ set: ['agent.logLevel=debug'] }));
    expect(debug.get('agent-daemonset.yaml')).not.toBe(files.get('agent-daemonset.yaml'));
    expect(debug.get('rbac-agent.yaml')).toBe(files.get('rbac-agent.yaml'));
  });

  it('crds/ holds vxmesh\'s generated CRDs (deploy/crds) and helm installs them before the templates', () => {
    const crds = find(objects(helmTemplate({ includeCrds: true })), 'CustomResourceDefinition');
    expect(crds.map((c) => c.metadata.name).sort()).toEqual([
      'vxlanconfigs.network.vxmesh.io', 'vxlanipallocations.network.vxmesh.io', 'vxlanipclaims.network.vxmesh.io', 'vxlannetworks.network.vxmesh.io', 'vxlanstatuses.network.vxmesh.io',
    ]);
    expect(find(objects(helmTemplate()), 'CustomResourceDefinition')).toHaveLength(0);
  });

  it('global.cattle.systemDefaultRegistry prefixes the image of both workloads; image, pull secrets and per-component values are honoured', () => {
    const tag = chartYaml().appVersion;
    expect(images(objects(helmTemplate()))).toEqual([`ghcr.io/vxmesh/vxmesh:${tag}`, `ghcr.io/vxmesh/vxmesh:${tag}`]);
    const objs = objects(helmTemplate({
      values: YAML.stringify({
        global: { cattle: { systemDefaultRegistry: 'registry.example.com:5000' } },
        image: { tag: '0.2.0-rc1', pullPolicy: 'Always' },
        imagePullSecrets: [{ name: 'regcred' }],
        agent: { tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'vm', effect: 'NoSchedule' }], nodeSelector: { 'vxmesh.io/overlay': 'true' }, priorityClassName: 'vxmesh-node', resources: { requests: { cpu: '100m' }, limits: null }, peerProbeInterval: 0 },
        controller: { replicas: 3, nodeSelector: { 'node-role.kubernetes.io/control-plane': 'true' }, priorityClassName: '' },
        cni: { binDir: '/var/lib/rancher/rke2/data/cni' },
      }),
    }));
    expect(images(objs)).toEqual(['registry.example.com:5000/ghcr.io/vxmesh/vxmesh:0.2.0-rc1', 'registry.example.com:5000/ghcr.io/vxmesh/vxmesh:0.2.0-rc1']);
    const agent = podSpec(objs, 'DaemonSet');
    const controller = podSpec(objs, 'Deployment');
    expect(agent.tolerations).toEqual([{ key: 'dedicated', operator: 'Equal', value: 'vm', effect: 'NoSchedule' }]);
    expect(agent.nodeSelector).toEqual({ 'vxmesh.io/overlay': 'true' });
    expect(agent.priorityClassName).toBe('vxmesh-node');
    expect(agent.containers[0].resources).toEqual({ requests: { cpu: '100m', memory: '96Mi' } }); // helm merges maps; null drops a key
    expect(agent.containers[0].imagePullPolicy).toBe('Always');
    const env = (spec: ReturnType<typeof podSpec>, name: string) => spec.containers[0].env.find((e: { name: string }) => e.name === name)?.value;
    expect(env(agent, 'VXMESH_PEER_PROBE_INTERVAL')).toBe('0'); // the peer probe off (the agent reads "0" as off)
    for (const s of [agent, controller]) expect(s.imagePullSecrets).toEqual([{ name: 'regcred' }]);
    expect(one(objs, 'Deployment', 'vxmesh-controller').spec.replicas).toBe(3);
    const cniBin = (spec: ReturnType<typeof podSpec>) => spec.volumes.find((v: Obj) => v.name === spec.initContainers[0].volumeMounts[0].name).hostPath.path;
    expect(cniBin(agent)).toBe('/var/lib/rancher/rke2/data/cni'); // cni.binDir: where the init container installs the plugin
    expect(agent.initContainers[0].image).toBe(agent.containers[0].image);
    expect(controller.priorityClassName).toBeUndefined();
    expect(controller.tolerations).toEqual([{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }]);
    // Defaults next to it: every taint tolerated, the critical classes, no pull secrets.
    const d = objects(helmTemplate());
    expect(podSpec(d, 'DaemonSet').tolerations).toEqual([{ operator: 'Exists' }]);
    expect([podSpec(d, 'DaemonSet').priorityClassName, podSpec(d, 'Deployment').priorityClassName]).toEqual(['system-node-critical', 'system-cluster-critical']);
    expect(podSpec(d, 'DaemonSet').imagePullSecrets).toBeUndefined();
    expect(cniBin(podSpec(d, 'DaemonSet'))).toBe('/opt/cni/bin');
    expect(env(podSpec(d, 'DaemonSet'), 'VXMESH_PEER_PROBE_INTERVAL')).toBe('10s');
  });

  it('the release namespace is the agent\'s identity in the admission policy and the RBAC subjects', () => {
    const objs = objects(helmTemplate({ namespace: 'vxmesh-alt' }));
    const policy = one(objs, 'ValidatingAdmissionPolicy', 'vxmesh-agent-own-status');
    expect(policy.spec.matchConditions[0].expression).toContain("'system:serviceaccount:vxmesh-alt:vxmesh-agent'");
    for (const b of [...find(objs, 'ClusterRoleBinding'), ...find(objs, 'RoleBinding')]) for (const s of (b as any).subjects) expect(s.namespace).toBe('vxmesh-alt');
    expect(objs.filter((o) => o.metadata.namespace && o.metadata.namespace !== 'vxmesh-alt')).toEqual([]);
  });

  it('monitoring is off by default; on, a ServiceMonitor per component (with its Service), a PrometheusRule and a grafana_dashboard ConfigMap', () => {
    const off = objects(helmTemplate());
    for (const k of ['ServiceMonitor', 'PrometheusRule', 'ConfigMap', 'Service']) expect(find(off, k), k).toHaveLength(0);
    const on = objects(helmTemplate({ set: MONITORING }));
    expect(find(on, 'ServiceMonitor').map((s) => s.metadata.name).sort()).toEqual(['vxmesh-agent', 'vxmesh-controller']);
    for (const c of ['agent', 'controller']) {
      const svc = one(on, 'Service', `vxmesh-${c}-metrics`);
      const sm = one(on, 'ServiceMonitor', `vxmesh-${c}`);
      expect(sm.spec.selector.matchLabels).toEqual(Object.fromEntries(Object.entries(svc.metadata.labels!).filter(([k]) => k in sm.spec.selector.matchLabels)));
      expect(Object.keys(sm.spec.selector.matchLabels).length).toBe(2);
      expect(svc.spec.selector).toEqual(one(on, c === 'agent' ? 'DaemonSet' : 'Deployment', `vxmesh-${c}`).spec.selector.matchLabels);
      expect(svc.spec.ports[0].port).toBe(c === 'agent' ? 9440 : 9441);
    }
    expect(one(on, 'PrometheusRule', 'vxmesh').spec.groups[0].rules.map((r: any) => r.alert)).toEqual([
      'VxmeshAgentNotReady', 'VxmeshReconcileErrors', 'VxmeshDropsRising', 'VxmeshAddressPoolNearlyExhausted', 'VxmeshVtepUnavailable', 'VxmeshVtepPeerUnreachable',
    ]);
    const cm = one(on, 'ConfigMap', 'vxmesh-dashboard');
    expect(cm.metadata).toMatchObject({ namespace: 'cattle-dashboards', labels: { grafana_dashboard: '1' } });
    expect(JSON.parse(cm.data['vxmesh.json']).panels.length).toBeGreaterThan(5);
  });

  it('refuses a cluster older than the CRDs\' CEL needs (kubeVersion), the same chart renders for 1.34', () => {
    const r = helm(['template', 'vxmesh', CHART_DIR, '--kube-version', '1.30.0']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('chart requires kubeVersion');
    expect(helm(['template', 'vxmesh', CHART_DIR, '--kube-version', '1.34.4']).status).toBe(0);
  });
});

describe('deploy/harvester/vxmesh.yaml (the Harvester Addon)', () => {
  it('is a Namespace and a harvesterhci.io/v1beta1 Addon of this chart, labelled for the Add-ons page; its valuesContent renders', () => {
    const [ns, addon] = addonDocs();
    expect(ns).toMatchObject({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'vxmesh-system', labels: { 'pod-security.kubernetes.io/enforce': 'privileged' } } });
    // The same namespace (and pod-security level) as the kustomize install.
    expect(YAML.parse(readFileSync(path.join(DEPLOY, 'namespace.yaml'), 'utf8')).metadata).toEqual(ns!.metadata);
    expect(addon).toMatchObject({
      apiVersion: 'harvesterhci.io/v1beta1', kind: 'Addon', metadata: { name: 'vxmesh', namespace: 'vxmesh-system', labels: { 'addon.harvesterhci.io/experimental': 'true', 'addon.harvesterhci.io/displayName': 'vxmesh' } },
      spec: { chart: chartYaml().name, version: chartYaml().version, enabled: false },
    });
    expect(addon!.spec.repo).toMatch(/^https:\/\//);
    const objs = objects(helmTemplate({ namespace: addon!.metadata.namespace, values: addon!.spec.valuesContent }));
    expect(images(objs)).toEqual(['ghcr.io/vxmesh/vxmesh:0.1.0', 'ghcr.io/vxmesh/vxmesh:0.1.0']);
    expect(find(objs, 'DaemonSet')).toHaveLength(1);
    // Control: valuesContent that is not a values file is refused by the same rendering.
    expect(() => helmTemplate({ values: 'image: [unterminated' })).toThrow(/helm template failed/);
  });
});

describe('promtool: the PrometheusRule', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'vxm-rules-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const rulesFile = () => {
    const rule = one(objects(helmTemplate({ set: MONITORING })), 'PrometheusRule', 'vxmesh');
    const f = path.join(dir, 'rules.yaml');
    writeFileSync(f, YAML.stringify({ groups: rule.spec.groups }));
    return f;
  };
  const promtool = (...args: string[]) => spawnSync('promtool', args, { encoding: 'utf8', cwd: dir });

  it('promtool check rules accepts the 6 rules; a broken expression is refused', () => {
    const r = promtool('check', 'rules', rulesFile());
    expect(r.stdout + r.stderr).toContain('SUCCESS: 6 rules found');
    expect(r.status).toBe(0);
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(bad, YAML.stringify({ groups: [{ name: 'x', rules: [{ alert: 'X', expr: 'sum by (network (vxmesh_network_addresses_used)' }] }] }));
    expect(promtool('check', 'rules', bad).status).not.toBe(0);
  });

  it('promtool test rules: the address-pool alert fires for a 96 % full network, not for a half-full one; not-ready fires for the not-ready agent only; peer-unreachable for the peer down 3 minutes only', () => {
    const rules = YAML.parse(readFileSync(rulesFile(), 'utf8')).groups[0].rules;
    const notReady = rules.find((r: any) => r.alert === 'VxmeshAgentNotReady');
    const peerDown = rules.find((r: any) => r.alert === 'VxmeshVtepPeerUnreachable');
    const peer = (vtep: string, peerNode: string) => `vxmesh_vtep_peer_reachable{node="node1",cluster_network="overlay",peer_vtep="${vtep}",peer_node="${peerNode}"}`;
    const test: any = {
      rule_files: ['rules.yaml'],
      evaluation_interval: '1m',
      tests: [{
        interval: '1m',
        input_series: [
          { series: 'vxmesh_network_addresses_used{network="tenant-a/blue",pod="c0"}', values: '240x15' },
          { series: 'vxmesh_network_addresses_available{network="tenant-a/blue",pod="c0"}', values: '10x15' },
          { series: 'vxmesh_network_addresses_used{network="tenant-b/red",pod="c0"}', values: '125x15' },
          { series: 'vxmesh_network_addresses_available{network="tenant-b/red",pod="c0"}', values: '125x15' },
          { series: 'vxmesh_agent_ready{node="node1"}', values: '0x15' },
          { series: 'vxmesh_agent_ready{node="node2"}', values: '1x15' },
          { series: peer('198.18.0.12', 'node2'), values: '1x15' },
          { series: peer('198.18.0.13', 'node3'), values: '0x15' },
          { series: peer('198.18.0.14', 'node4'), values: '1 0 0 1 1 1 0 0 1 1 1 1 1 1 1 1' }, // down 2 minutes at a time: below the 3 m
        ],
        alert_rule_test: [
          { eval_time: '3m', alertname: 'VxmeshAddressPoolNearlyExhausted', exp_alerts: [] }, // pending: for 5m
          {
            eval_time: '10m', alertname: 'VxmeshAddressPoolNearlyExhausted',
            exp_alerts: [{
              exp_labels: { severity: 'warning', network: 'tenant-a/blue' },
              exp_annotations: {
                summary: 'VxlanNetwork tenant-a/blue has 96% of its addresses in use',
                description: 'New VM NICs on this network get no address once it is full. Widen the CIDR (a new VxlanNetwork: the CIDR cannot change) or release excludeIPs.',
              },
            }],
          },
          {
            eval_time: '10m', alertname: 'VxmeshAgentNotReady',
            exp_alerts: [{ exp_labels: { severity: 'warning', node: 'node1' }, exp_annotations: { summary: 'vxmesh agent on node1 is not ready', description: notReady.annotations.description } }],
          },
          { eval_time: '2m', alertname: 'VxmeshVtepPeerUnreachable', exp_alerts: [] }, // pending: for 3m
          {
            eval_time: '10m', alertname: 'VxmeshVtepPeerUnreachable',
            exp_alerts: [{
              exp_labels: { severity: 'warning', node: 'node1', cluster_network: 'overlay', peer_vtep: '198.18.0.13', peer_node: 'node3' },
              exp_annotations: { summary: 'node node1 cannot reach the VTEP of node3 (198.18.0.13) on cluster network overlay', description: peerDown.annotations.description },
            }],
          },
        ],
      }],
    };
    writeFileSync(path.join(dir, 'test.yaml'), YAML.stringify(test));
    const r = promtool('test', 'rules', 'test.yaml');
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.status).toBe(0);
    // Controls: the same test expecting the half-full network too fails, and so does one expecting the peer that was down 2 minutes.
    const control = (i: number, alert: unknown) => {
      const t = structuredClone(test);
      t.tests[0].alert_rule_test[i].exp_alerts.push(alert);
      writeFileSync(path.join(dir, 'test.yaml'), YAML.stringify(t));
      return promtool('test', 'rules', 'test.yaml').status;
    };
    expect(control(1, { exp_labels: { severity: 'warning', network: 'tenant-b/red' } })).not.toBe(0);
    expect(control(4, { exp_labels: { severity: 'warning', node: 'node1', cluster_network: 'overlay', peer_vtep: '198.18.0.14', peer_node: 'node4' } })).not.toBe(0);
    expect(peerDown.annotations.description).toMatch(/routing.*MTU.*UDP 4789.*ICMP/);
  });
});

/** Metric names a PromQL expression refers to (vxmesh's own; `up` and the like are Prometheus's). */
const queried = (exprs: string[]) => new Set(exprs.flatMap((e) => e.match(/\bvxmesh_[a-z0-9_]+/g) ?? []));
/** Sample names in a text exposition: every series line's name (histograms: _bucket, _sum, _count). */
const exported = (text: string) => new Set(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(/[{ ]/)[0]!));
const missing = (names: Set<string>, have: Set<string>) => [...names].filter((n) => !have.has(n)).sort();

describe('deploy/chart on a real kube-apiserver', () => {
  let kube: Kube;
  let controller: Controller | undefined;
  const ns = 'vxmesh-system';
  beforeAll(async () => {
    kube = await startKube();
    const crds = execFileSync('bash', [path.join(ROOT, 'build/chart-crds.sh'), '--print'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith('CHART_CRD=')).map((l) => l.slice(10));
    expect(crds).toHaveLength(3);
    for (const f of crds) kube.kubectl('apply', '--server-side', '-f', f);
    kube.kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd', 'servicemonitors.monitoring.coreos.com', 'prometheusrules.monitoring.coreos.com', 'addons.harvesterhci.io');
  }, 120_000);
  afterAll(async () => {
    await controller?.stop();
    await kube?.stop();
  });

  const apply = (yaml: string, ...args: string[]) => execFileSync('kubectl', ['--kubeconfig', kube.cp.kubeconfigPath, 'apply', ...args, '-f', '-'], { input: yaml, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
  const applied = (out: string) => out.trim().split('\n').map((l) => l.replace(/ (created|configured|unchanged)$/, ''));

  it('the Addon manifest is accepted by Harvester\'s own Addon CRD; an Addon whose enabled is not a boolean is refused', () => {
    const out = apply(readFileSync(ADDON, 'utf8'));
    expect(out).toMatch(/namespace\/vxmesh-system (created|unchanged)/);
    expect(out).toContain('addon.harvesterhci.io/vxmesh created');
    expect(JSON.parse(kube.kubectl('-n', ns, 'get', 'addon', 'vxmesh', '-o', 'json')).spec.chart).toBe('vxmesh');
    const [, addon] = addonDocs();
    const broken = { ...addon!, metadata: { name: 'broken', namespace: ns }, spec: { ...addon!.spec, enabled: 'yes please' } };
    expect(() => apply(YAML.stringify(broken))).toThrow(/enabled/);
  });

  it('kubectl apply of helm template (default values) creates every object; with monitoring and non-default values every object is accepted too', () => {
    const rendered = helmTemplate({ includeCrds: true });
    const docs = objects(rendered);
    const out = apply(rendered);
    expect(applied(out)).toHaveLength(docs.length);
    expect(out).toMatch(/daemonset.apps\/vxmesh-agent created/);
    expect(out).toMatch(/validatingadmissionpolicy.admissionregistration.k8s.io\/vxmesh-agent-own-status created/);
    kube.kubectl('create', 'namespace', 'cattle-dashboards');
    const full = helmTemplate({ includeCrds: true, set: [...MONITORING, 'global.cattle.systemDefaultRegistry=registry.example.com', 'agent.tolerations[0].operator=Exists', 'agent.tolerations[0].effect=NoExecute', 'imagePullSecrets[0].name=regcred'] });
    const out2 = apply(full);
    expect(applied(out2)).toHaveLength(objects(full).length);
    for (const o of ['servicemonitor.monitoring.coreos.com/vxmesh-agent created', 'servicemonitor.monitoring.coreos.com/vxmesh-controller created', 'prometheusrule.monitoring.coreos.com/vxmesh created', 'configmap/vxmesh-dashboard created', 'daemonset.apps/vxmesh-agent configured']) expect(out2).toContain(o);
    const ds = JSON.parse(kube.kubectl('-n', ns, 'get', 'ds', 'vxmesh-agent', '-o', 'json'));
    expect(ds.spec.template.spec.containers[0].image).toBe('registry.example.com/ghcr.io/vxmesh/vxmesh:0.1.0');
    expect(ds.spec.template.spec.tolerations).toEqual([{ operator: 'Exists', effect: 'NoExecute' }]);
    // Control: the real ServiceMonitor schema refuses an endpoint that is not an object.
    const sm = one(objects(full), 'ServiceMonitor', 'vxmesh-agent');
    expect(() => apply(YAML.stringify({ ...sm, metadata: { name: 'broken', namespace: ns }, spec: { ...sm.spec, endpoints: ['metrics'] } }))).toThrow(/endpoints/);
    // Back to the defaults for the next test (the controller's RBAC is the same either way).
    apply(rendered);
  });

  it('every metric the rules and the dashboard query is exported: the controller\'s in a real scrape (running as the chart\'s ServiceAccount), the agent\'s by its registry', async () => {
    const on = objects(helmTemplate({ set: MONITORING }));
    const exprs = [
      ...one(on, 'PrometheusRule', 'vxmesh').spec.groups.flatMap((g: any) => g.rules.map((r: any) => r.expr as string)),
      ...JSON.parse(one(on, 'ConfigMap', 'vxmesh-dashboard').data['vxmesh.json']).panels.flatMap((p: any) => p.targets.map((t: any) => t.expr as string)),
    ];
    const names = queried(exprs);
    expect(names.size).toBeGreaterThan(10);
    expect([...names]).toEqual(expect.arrayContaining(['vxmesh_vtep_peer_reachable', 'vxmesh_vtep_peer_rtt_seconds'])); // the rule and the dashboard

    apply(readFileSync(ADDON, 'utf8')); // the namespace (idempotent: the tests above may have done it)
    apply(helmTemplate({ includeCrds: true })); // the chart's RBAC is what the controller runs with
    await applyFixture(kube.client, FIXTURE);
    controller = await runController({ kubeconfigYaml: await kube.serviceAccountKubeconfig('vxmesh-controller'), log: quietLog, identity: 'c0', namespace: ns, leaderElection: false, healthPort: 0 });
    await createObject(kube.client, vmi('vm1', 'tenant-a', 'blue', '02:00:00:01:00:01', 'node1'));
    await until('an address for vm1', () => kube.client.get(RESOURCES.allocations, 'vm1.nic1', 'tenant-a'), 20_000);
    // (Not controller.idle(): on the real API server the controller rewrites VxlanNetwork status every pass — reported.)
    const scrape = await until('the allocation in the scrape', async () => {
      const t = await (await fetch(`http://127.0.0.1:${controller!.healthPort}/metrics`)).text();
      return t.includes('vxmesh_network_addresses_used{network="tenant-a/blue"} 1') ? t : undefined;
    }, 20_000);
    // The new address-pool metrics, with the numbers a user checks: a /24 has 253 addresses after the gateway.
    expect(scrape).toContain('vxmesh_network_addresses_used{network="tenant-a/blue"} 1');
    expect(scrape).toContain('vxmesh_network_addresses_available{network="tenant-a/blue"} 252');
    expect(scrape).toContain('vxmesh_network_addresses_available{network="tenant-b/red"} 253');

    const agent = agentMetrics();
    agent.recordPass({ durationMs: 3, converged: false, entries: { vxm_ports: 1 }, held: 'source', refusedEntries: { vxm_ports: 1 }, vteps: { overlay: true } });
    // What a probe round hands the metrics (peers exist only with two nodes or more: the series need them).
    agent.recordPeers([{ clusterNetwork: 'overlay', peerVtep: '198.18.0.12', peerNode: 'node2', reachable: true, rttSeconds: 0.0004 }]);
    const agentText = await agent.render({ ready: true, invalidObjects: 0, packets: [{ vni: 100, verdict: 'dropped-spoof', packets: 1, bytes: 60 }], sourceReadErrors: 0 });
    expect(agentText).toContain('vxmesh_vtep_ready{cluster_network="overlay"} 1');
    expect(agentText).toContain('vxmesh_vtep_peer_reachable{cluster_network="overlay",peer_vtep="198.18.0.12",peer_node="node2"} 1');
    const have = new Set([...exported(scrape), ...exported(agentText)]);
    expect(missing(names, have)).toEqual([]);
    // Control: a name nothing exports is reported, and the controller's scrape alone lacks the agent's names.
    expect(missing(new Set(['vxmesh_vtep_reachable']), have)).toEqual(['vxmesh_vtep_reachable']);
    expect(missing(names, exported(scrape))).toContain('vxmesh_agent_ready');
    expect(exported(await controllerMetrics(() => ({ passes: 0, leading: false, lastPassWrites: {} })).render()).has('vxmesh_network_addresses_used')).toBe(false);
  }, 60_000);
});
