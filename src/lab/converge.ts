/**
 * Bringing a lab to what its file says. `create` builds a new lab (underlay, nodes, external host, bpffs,
 * agents, VMs); `converge` updates a running one (state rewritten atomically, VMs that appeared or
 * disappeared created or deleted, dead agents restarted). The lab plays the controller (IPAM), bridge CNI
 * and KubeVirt; the agents do all dataplane programming.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { run } from '../util/exec.js';
import type { ModeRequest } from '../dataplane/dataplane.js';
import { ipAllocationSchema, type VxlanIPAllocation } from '../model/schema.js';
import { parseDocuments } from '../sources/validate.js';
import { writeFileAtomic } from '../sources/file/files.js';
import { agentRunning, startAgent, stopAgent, waitReady } from './agents.js';
import { objectsToYaml, type LabInput } from './input.js';
import { EXTERNAL_IP, EXTERNAL_PORT, labPaths, labPrefix, underlayIP, writeLabState, type LabState, type LabVmState } from './state.js';
import { addHost, createUnderlay, nsName, plugPort } from './topology.js';
import { createVm, deleteVm, nodeNetns, startExternalServer, vmState } from './vms.js';
import { reviveDhcpClients, waitLeases } from './dhcp-client.js';

export interface ConvergeReport {
  created: string[];
  deleted: string[];
  restartedAgents: string[];
}

export async function writeClusterState(lab: string, input: LabInput): Promise<void> {
  await writeFileAtomic(labPaths(lab).cluster, objectsToYaml(input.objects));
}

/** The allocations currently in the lab's state (IPAM keeps them). */
export async function currentAllocations(lab: string): Promise<VxlanIPAllocation[]> {
  const text = await readFile(labPaths(lab).cluster, 'utf8').catch(() => '');
  return parseDocuments(text, labPaths(lab).cluster)
    .docs.map((d) => ipAllocationSchema.safeParse(d))
    .filter((r) => r.success)
    .map((r) => r.data!);
}

export async function createLab(input: LabInput, mode: ModeRequest, repo: string): Promise<LabState> {
  const lab = input.lab.metadata.name;
  const p = labPaths(lab);
  const prefix = labPrefix(lab);
  const s: LabState = {
    lab,
    mode,
    repo,
    underlayNetns: nsName(prefix, 'ul'),
    clusterNetwork: input.clusterNetwork,
    nodes: input.lab.spec.nodes.map((n, i) => ({ name: n.name, netns: nsName(prefix, n.name), underlayIP: underlayIP(i), uplink: input.uplink, bpffs: p.bpffs(n.name) })),
    ...(input.lab.spec.external ? { external: { netns: nsName(prefix, 'ext'), ip: EXTERNAL_IP, port: EXTERNAL_PORT } } : {}),
    vms: [],
  };
  await mkdir(p.statusDir, { recursive: true });
  await mkdir(p.logs, { recursive: true });
  await writeLabState(s); // first, so that `lab down` finds everything even if we fail half-way
  await createUnderlay(prefix);
  for (const n of s.nodes) {
    await addHost(prefix, n.name, `${n.underlayIP}/24`, n.uplink, input.uplinkMtu);
    await mkdir(n.bpffs, { recursive: true });
    await run(['mount', '-t', 'bpf', 'bpf', n.bpffs]);
  }
  if (s.external) {
    await addHost(prefix, 'ext', `${s.external.ip}/24`, 'vxmu0', input.uplinkMtu);
    startExternalServer(s);
  }
  await writeClusterState(lab, input);
  for (const n of s.nodes) startAgent(s, n);
  await writeLabState(s);
  for (const vm of input.vms) {
    const v = vmState(lab, vm);
    await createVm(s, v);
    s.vms.push(v);
    await writeLabState(s);
  }
  await waitReady(s, Date.now());
  await requireLeases(s, s.vms);
  return s;
}

/** The guests' DHCP clients must hold their allocations once the agents are ready. */
async function requireLeases(s: LabState, vms: LabVmState[]): Promise<void> {
  const left = await waitLeases(s, vms);
  if (left.length) throw new Error(`no DHCP lease for ${left.join(', ')} (see ${labPaths(s.lab).logs}/dhcp-*.log)`);
}

const sameVm = (a: LabVmState, b: LabVmState) =>
  a.node === b.node && JSON.stringify(a.interfaces) === JSON.stringify(b.interfaces);

/** Updates a running lab to `input`; `mode` (if given) switches the agents' mode. */
export async function convergeLab(s: LabState, input: LabInput, mode?: ModeRequest): Promise<ConvergeReport> {
  const report: ConvergeReport = { created: [], deleted: [], restartedAgents: [] };
  const since = Date.now();
  await writeClusterState(s.lab, input);
  const desired = input.vms.map((vm) => vmState(s.lab, vm));
  const keep: LabVmState[] = [];
  for (const cur of s.vms) {
    const want = desired.find((d) => d.name === cur.name && d.namespace === cur.namespace);
    if (want && sameVm(cur, want)) {
      // Bridge CNI's part again: re-plug ports left without a bridge (e.g. after `agent --cleanup`).
      for (const nic of cur.interfaces) await plugPort(nodeNetns(s, cur.node), nic.port, nic.bridge);
      reviveDhcpClients(s, cur);
      keep.push(cur);
    }
    else {
      await deleteVm(cur);
      report.deleted.push(cur.name);
    }
  }
  s.vms = keep;
  await writeLabState(s);
  for (const want of desired) {
    if (keep.some((k) => k.name === want.name && k.namespace === want.namespace)) continue;
    await createVm(s, want);
    s.vms.push(want);
    report.created.push(want.name);
    await writeLabState(s);
  }
  const switching = mode !== undefined && mode !== s.mode;
  if (mode) s.mode = mode;
  for (const n of s.nodes) {
    if (switching) await stopAgent(n);
    if (!agentRunning(n)) {
      startAgent(s, n);
      report.restartedAgents.push(n.name);
    }
  }
  await writeLabState(s);
  await waitReady(s, since);
  await requireLeases(s, s.vms);
  return report;
}
