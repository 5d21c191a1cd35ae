/**
 * A conflicting edit rejects the edit, not the bystander — against running agents, both dataplane modes,
 * both sources. Each edit is written straight into the cluster (the file source: the lab's state file, as
 * a user editing it would — `lab apply` refuses it before any agent reads it; the Kubernetes source: an
 * update or create through the lab's real kube-apiserver) while two 10 ms ping streams run: one to the
 * untouched object's VM, one to the edited object's VM. Both must lose nothing: the untouched object keeps
 * its place and the edited one keeps serving its last good version.
 *
 * On Kubernetes the API server takes what only the agents and the controller can see is a conflict (a MAC
 * or an address another object holds, a new network with a VNI in use) and refuses outright what a CEL
 * rule forbids: moving a running network's VNI (`spec.vni: … is immutable`), so that edit never reaches an
 * agent. E2E_MODES / E2E_SOURCES narrow the setups (default: kernel,bpf × file,kubernetes).
 */
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorMessage, KubeClient, loadKubeConfig, type KObject } from '../../src/k8s/client.js';
import { RESOURCES, type ResourceRef } from '../../src/k8s/resources.js';
import { run } from '../../src/util/exec.js';
import { find, parsePing, sleep, TestLab, waitFor, type Doc } from '../helpers/lab.js';

const MODES = (process.env.E2E_MODES ?? 'kernel,bpf').split(',').filter(Boolean);
const SOURCES = (process.env.E2E_SOURCES ?? 'file,kubernetes').split(',').filter(Boolean);
const SETUPS = MODES.flatMap((mode) => SOURCES.map((source) => [mode, source] as const));

interface Stream { from: string; to: string; answers: string }
interface EditCase {
  what: string;
  edit: (docs: Doc[]) => void;
  /** The agents' log line that names the edited object and field. */
  message: RegExp;
  untouched: Stream;
  edited: Stream;
  /** Matches a rejection of the untouched object: must never appear. */
  bystander: RegExp;
  /** Only the controller writes allocations on Kubernetes (and puts an edited one back at once). */
  fileOnly?: boolean;
  /** On Kubernetes the API server refuses the edit with this message (a CEL rule): no agent ever sees it. */
  apiRefuses?: RegExp;
}

/** The messages of the objects an agent's log says it rejected. */
const rejected = (log: string): string[] => log.split('\n').filter((l) => /invalid (input|object) ignored/.test(l)).map((l) => String(JSON.parse(l).err));
const alloc = (docs: Doc[], vm: string) => docs.find((d) => d.kind === 'VxlanIPAllocation' && d.spec.vm === vm)!;
const mac = (docs: Doc[], vm: string) => find(docs, 'VirtualMachineInstance', vm).spec.domain.devices.interfaces[0];

const CASES: EditCase[] = [
  {
    what: "a network edited to another tenant's VNI (the edited network sorts first)",
    edit: (d) => (find(d, 'VxlanNetwork', 'blue').spec.vni = 200),
    message: /VxlanNetwork tenant-a\/blue: spec\.vni 200 is already in use .*the last good version stays in force/,
    apiRefuses: /HTTP 422: .*spec\.vni: .*is immutable/,
    untouched: { from: 'vm-b1', to: '10.10.0.3', answers: 'vm-b2' },
    edited: { from: 'vm-a1', to: '10.10.0.3', answers: 'vm-a2' },
    bystander: /^VxlanNetwork tenant-b\/red:/,
  },
  {
    what: "a network edited to another tenant's VNI (the edited network sorts second)",
    edit: (d) => (find(d, 'VxlanNetwork', 'red').spec.vni = 100),
    message: /VxlanNetwork tenant-b\/red: spec\.vni 100 is already in use .*the last good version stays in force/,
    apiRefuses: /HTTP 422: .*spec\.vni: .*is immutable/,
    untouched: { from: 'vm-a1', to: '10.10.0.3', answers: 'vm-a2' },
    edited: { from: 'vm-b1', to: '10.10.0.3', answers: 'vm-b2' },
    bystander: /^VxlanNetwork tenant-a\/blue:/,
  },
  {
    what: "a new network created with another tenant's VNI (its name sorts before the holder's)",
    edit: (d) => void d.push({
      apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanNetwork', metadata: { name: 'aaa', namespace: 'tenant-a' },
      spec: { clusterNetwork: 'overlay', vni: 200, cidr: '10.20.0.0/24' },
    }),
    message: /VxlanNetwork tenant-a\/aaa: spec\.vni 200 is already in use/,
    untouched: { from: 'vm-b1', to: '10.10.0.3', answers: 'vm-b2' },
    edited: { from: 'vm-a1', to: '10.10.0.3', answers: 'vm-a2' },
    bystander: /^VxlanNetwork tenant-b\/red:/,
  },
  {
    what: "a VM edited to another VM's MAC (the edited VM second)",
    edit: (d) => (mac(d, 'vm-a2').macAddress = '02:00:0a:00:01:01'),
    message: /VirtualMachineInstance tenant-a\/vm-a2: spec\.domain\.devices\.interfaces\[nic1\]\.macAddress 02:00:0a:00:01:01 is already in use by tenant-a\/vm-a1 nic1/,
    untouched: { from: 'vm-a3', to: '10.10.0.2', answers: 'vm-a1' },
    edited: { from: 'vm-a1', to: '10.10.0.3', answers: 'vm-a2' },
    bystander: /^\w+ tenant-a\/vm-a1[.:]/,
  },
  {
    what: "a VM edited to another VM's MAC (the edited VM first)",
    edit: (d) => (mac(d, 'vm-a1').macAddress = '02:00:0a:00:01:02'),
    message: /VirtualMachineInstance tenant-a\/vm-a1: spec\.domain\.devices\.interfaces\[nic1\]\.macAddress 02:00:0a:00:01:02 is already in use by tenant-a\/vm-a2 nic1/,
    untouched: { from: 'vm-a3', to: '10.10.0.3', answers: 'vm-a2' },
    edited: { from: 'vm-a2', to: '10.10.0.2', answers: 'vm-a1' },
    bystander: /^\w+ tenant-a\/vm-a2[.:]/,
  },
  {
    what: "a VM edited to a fixed IP another VM's allocation holds",
    edit: (d) => (find(d, 'VirtualMachineInstance', 'vm-a2').metadata.annotations = { 'network.vxmesh.io/ip-address': '10.10.0.2' }),
    message: /VirtualMachineInstance tenant-a\/vm-a2: metadata\.annotations\["network\.vxmesh\.io\/ip-address"\] 10\.10\.0\.2 is already allocated to tenant-a\/vm-a1 nic1/,
    untouched: { from: 'vm-a3', to: '10.10.0.2', answers: 'vm-a1' },
    edited: { from: 'vm-a1', to: '10.10.0.3', answers: 'vm-a2' },
    bystander: /^\w+ tenant-a\/vm-a1[.:]/,
  },
  {
    what: "an allocation edited to another VM's address",
    edit: (d) => (alloc(d, 'vm-a2').spec.ip = '10.10.0.2'),
    fileOnly: true,
    message: /VxlanIPAllocation tenant-a\/vm-a2\.nic1: spec\.ip 10\.10\.0\.2 is already allocated to tenant-a\/vm-a1 nic1/,
    untouched: { from: 'vm-a3', to: '10.10.0.2', answers: 'vm-a1' },
    edited: { from: 'vm-a1', to: '10.10.0.3', answers: 'vm-a2' },
    bystander: /^\w+ tenant-a\/vm-a1[.:]/,
  },
];

describe.each(SETUPS)('conflicting edits against running agents in %s mode, %s source', (mode, source) => {
  let lab: TestLab;
  let stateFile = '';
  let original = '';
  let api: KubeClient | undefined;
  /** Objects an edit changed through the API, as they were before, and objects it created. */
  let changed: Array<{ resource: ResourceRef; before: KObject }> = [];
  let created: Array<{ resource: ResourceRef; object: KObject }> = [];
  const logOf = (i: number) => `/run/vxmesh/${lab.name}/logs/${lab.node(i)}.log`;
  const logs = () => [1, 2, 3].map((i) => readFileSync(logOf(i), 'utf8'));
  /** Writes the state file atomically, as an editor or a GitOps tool would. */
  const writeState = (text: string) => run(['sh', '-c', `cat > ${stateFile}.tmp && mv ${stateFile}.tmp ${stateFile}`], { input: text });
  const edited = (edit: (docs: Doc[]) => void) => {
    const docs = YAML.parseAllDocuments(original).map((d) => d.toJS() as Doc).filter(Boolean);
    edit(docs);
    return docs.map((d) => YAML.stringify(d)).join('---\n');
  };
  /** Makes the edit in the cluster: the state file, or updates and creates through the API server. */
  const applyEdit = async (edit: (docs: Doc[]) => void) => {
    if (!api) return writeState(edited(edit));
    const resources = [RESOURCES.vxlanNetworks, RESOURCES.vmis];
    const current = (await Promise.all(resources.map(async (r) => (await api!.list(r)).items.map((o) => ({ resource: r, before: o }))))).flat();
    const after = structuredClone(current.map((c) => c.before)) as Doc[];
    edit(after);
    changed = current.filter((c, i) => JSON.stringify(c.before) !== JSON.stringify(after[i]));
    for (const c of changed) await api.replace(c.resource, after[current.indexOf(c)] as KObject);
    for (const o of after.slice(current.length) as KObject[]) {
      const resource = resources.find((r) => r.kind === o.kind)!;
      created.push({ resource, object: await api.create(resource, o) });
    }
  };
  const undoEdit = async () => {
    if (!api) return writeState(original);
    for (const c of changed) {
      const now = (await api.get(c.resource, c.before.metadata.name, c.before.metadata.namespace))!;
      await api.replace(c.resource, { ...now, metadata: { ...now.metadata, annotations: c.before.metadata.annotations }, spec: c.before.spec });
    }
    for (const c of created) await api.delete(c.resource, c.object.metadata.name, c.object.metadata.namespace);
    changed = [];
    created = [];
  };
  const stream = (s: Stream) => lab.exec(s.from, ['ping', '-i', '0.01', '-c', '400', '-q', s.to], { timeoutMs: 30_000 });

  beforeAll(async () => {
    lab = new TestLab(mode);
    await lab.up(lab.docs, source === 'kubernetes' ? ['--source', 'kubernetes'] : []);
    if (source === 'kubernetes') api = new KubeClient(loadKubeConfig({ kubeconfig: (await lab.status()).apiserver!.kubeconfig }));
    else {
      stateFile = `/run/vxmesh/${lab.name}/state/cluster.yaml`;
      original = readFileSync(stateFile, 'utf8');
    }
  });

  afterAll(async () => {
    await lab?.down();
  });

  it.each(CASES.filter((c) => source === 'file' || !c.fileOnly))('$what: the untouched VM loses no ping, the edited one keeps its last good version', async (c) => {
    // Positive controls first: both streams' targets answer, from the VMs the streams start at.
    expect(await lab.whoAnswers(c.untouched.from, c.untouched.to)).toBe(c.untouched.answers);
    expect(await lab.whoAnswers(c.edited.from, c.edited.to)).toBe(c.edited.answers);
    const before = logs().map((l) => l.length);
    const untouched = stream(c.untouched);
    const editedStream = stream(c.edited);
    const refused = api ? c.apiRefuses : undefined;
    try {
      await sleep(500);
      if (refused) {
        const err = await applyEdit(c.edit).then(() => undefined, (e: unknown) => e);
        expect(errorMessage(err)).toMatch(refused);
        expect(changed).toHaveLength(1); // positive control: the edit was one real change, sent and refused
      } else {
        await applyEdit(c.edit);
        await waitFor('every agent to reject the edit', async () => logs().every((l, i) => rejected(l.slice(before[i])).some((m) => c.message.test(m))), 3000, 50);
      }
      await sleep(2200); // a resync with the edit in place (or refused)
      const [u, e] = [parsePing((await untouched).stdout), parsePing((await editedStream).stdout)];
      console.log(`[${mode}] ${c.what}: untouched ${u.lost}/${u.transmitted} lost, edited ${e.lost}/${e.transmitted} lost`);
      expect(u.transmitted).toBe(400);
      expect(u.lost).toBe(0);
      expect(e.lost).toBe(0);
      expect(await lab.whoAnswers(c.untouched.from, c.untouched.to)).toBe(c.untouched.answers);
      expect(await lab.whoAnswers(c.edited.from, c.edited.to)).toBe(c.edited.answers);
      // The bystander is never the one named; a refused edit names nobody (no agent saw it).
      const rejections = logs().flatMap((l, i) => rejected(l.slice(before[i])));
      if (refused) expect(rejections).toEqual([]);
      else expect(rejections.length).toBeGreaterThanOrEqual(3);
      expect(rejections.filter((m) => c.bystander.test(m))).toEqual([]);
    } finally {
      await untouched.catch(() => undefined);
      await editedStream.catch(() => undefined);
      await undoEdit();
      await sleep(300);
    }
  });

  // The file source keeps its memory in the state directory; on Kubernetes the API server refuses this edit.
  it.runIf(source === 'file')('still rejects the edit, not the bystander, after an agent restart with the edit in place', async () => {
    await writeState(edited(CASES[0]!.edit));
    try {
      await waitFor('node1 to reject the edit', async () => rejected(logs()[0]!).some((m) => CASES[0]!.message.test(m)), 3000, 50);
      const before = logs()[0]!.length;
      const r = await lab.cli(['lab', 'restart', lab.node(1), '--lab', lab.name]);
      expect(r.exitCode, r.stderr).toBe(0);
      await waitFor('the restarted agent to reject the edit', async () => rejected(logs()[0]!.slice(before)).some((m) => CASES[0]!.message.test(m)), 8000, 100);
      expect(logs()[0]!.slice(before)).toMatch(/first-seen order and last good versions restored/);
      expect(logs()[0]!.slice(before)).not.toMatch(/VxlanNetwork tenant-b\/red: spec\.vni/);
      // vm-b1 (node1, red) and vm-a1 (node1, blue) both reach their own network's VM on another node.
      expect(await lab.whoAnswers('vm-b1', '10.10.0.3')).toBe('vm-b2');
      expect(await lab.whoAnswers('vm-a1', '10.10.0.3')).toBe('vm-a2');
    } finally {
      await writeState(original);
    }
  });
});
