/**
 * Bringing a lab to what its file says. `create` builds a new lab (underlay, nodes, external host, bpffs,
 * agents, VMs); `converge` updates a running one (cluster objects rewritten, VMs that appeared or
 * disappeared created or deleted, dead agents restarted). The lab plays Multus (running the NAD's CNI plugin, lab/cni.ts) and KubeVirt, and with
 * the file source also the controller (IPAM); with the Kubernetes source the real controller allocates
 * against the lab's API server. The agents do all dataplane programming.
 */
import { mkdir } from 'node:fs/promises';
import { run } from '../util/exec.js';
import type { ModeRequest } from '../dataplane/dataplane.js';
import type { VxlanIPAllocation } from '../model/schema.js';
import { agentRunning, startAgent, stopAgent, waitReady } from './agents.js';
import { labCluster } from './cluster.js';
import type { LabInput, PlannedVm } from './input.js';
import { reviveKube, startController, startLabApi, type Progress } from './kube.js';
import { sleep } from './processes.js';
import { EXTERNAL_IP, EXTERNAL_PORT, labPaths, labPrefix, underlayIP, writeLabState, type LabState, type LabVmState } from './state.js';
import { addHost, createUnderlay, nsName, plugPort } from './topology.js';
import { createVm, deleteVm, nodeNetns, startExternalServer, vmState, portBinding } from './vms.js';
import { reviveDhcpClients, waitLeases } from './dhcp-client.js';

export interface ConvergeReport {
  created: string[];
  deleted: string[];
  restartedAgents: string[];
  /** Kubernetes source: lab processes (kube-apiserver, relays, controller) found dead and started again. */
  revived?: string[];
}

export type LabSource = 'file' | 'kubernetes';

/** The address allocations currently in the lab's cluster (IPAM keeps them). */
export function currentAllocations(s: LabState): Promise<VxlanIPAllocation[]> {
  return labCluster(s).allocations();
}

/**
 * With the Kubernetes source the controller allocates: waits for its allocation of every planned NIC and
 * takes its address (the lab's own IPAM result is only a plan). A no-op with the file source.
 */
async function adoptAllocations(s: LabState, vms: PlannedVm[], timeoutMs = 30_000): Promise<void> {
  if (!s.kube) return;
  const cluster = labCluster(s);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const allocs = await cluster.allocations();
    const find = (vm: PlannedVm, iface: string) => allocs.find((a) => a.metadata.namespace === vm.namespace && a.spec.vm === vm.name && a.spec.interface === iface);
    const missing = vms.flatMap((vm) => vm.nics.filter((n) => !find(vm, n.iface)).map((n) => `${vm.namespace}/${vm.name}/${n.iface}`));
    if (!missing.length) {
      for (const vm of vms) for (const n of vm.nics) n.ip = find(vm, n.iface)!.spec.ip;
      return;
    }
    if (Date.now() > deadline) {
      throw new Error(`the controller allocated no address to ${missing.join(', ')} within ${timeoutMs / 1000} s (see ${labPaths(s.lab).logs}/controller.log and the VxlanNetwork's status.conditions)`);
    }
    await sleep(100);
  }
}

export async function createLab(input: LabInput, mode: ModeRequest, repo: string, source: LabSource = 'file', progress?: Progress): Promise<LabState> {
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
  if (source === 'kubernetes') {
    try {
      await startLabApi(s, progress);
    } finally {
      await writeLabState(s);
    }
    startController(s);
  }
  await labCluster(s).write(input.objects);
  for (const n of s.nodes) startAgent(s, n);
  await writeLabState(s);
  await adoptAllocations(s, input.vms);
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

/** The NICs as the input gives them: the port's name follows the launcher pod (a migrated VM has a new one). */
const nicsOf = (vm: LabVmState) => JSON.stringify(vm.interfaces.map(({ port: _port, ...nic }) => nic));
const sameVm = (a: LabVmState, b: LabVmState) => a.node === b.node && nicsOf(a) === nicsOf(b);

/** Updates a running lab to `input`; `mode` (if given) switches the agents' mode. */
export async function convergeLab(s: LabState, input: LabInput, mode?: ModeRequest): Promise<ConvergeReport> {
  const report: ConvergeReport = { created: [], deleted: [], restartedAgents: [] };
  const revived = await reviveKube(s);
  if (revived.length) report.revived = revived;
  await labCluster(s).write(input.objects);
  await adoptAllocations(s, input.vms);
  const desired = input.vms.map((vm) => vmState(s.lab, vm));
  const keep: LabVmState[] = [];
  for (const cur of s.vms) {
    const want = desired.find((d) => d.name === cur.name && d.namespace === cur.namespace);
    if (want && sameVm(cur, want)) {
      // Bridge CNI's part again: re-plug ports left without a bridge (e.g. after `agent --cleanup`).
      for (const nic of cur.interfaces) await plugPort(nodeNetns(s, cur.node), nic.port, nic.bridge, portBinding(cur, nic));
      reviveDhcpClients(s, cur);
      keep.push(cur);
    }
    else {
      await deleteVm(s, cur);
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
  // Only a pass whose snapshot was read after every write above (objects, ports) proves them applied: a
  // source read that began before the last write may confirm the old content with a later time stamp.
  const since = Date.now();
  const switching = mode !== undefined && mode !== s.mode;
  if (mode) s.mode = mode;
  if (switching) for (const n of s.nodes) await stopAgent(n);
  // After a switch only the new agents' passes count (the old ones may have reconciled after `since`).
  const readySince = switching ? Date.now() : since;
  for (const n of s.nodes) {
    if (!agentRunning(n)) {
      startAgent(s, n);
      report.restartedAgents.push(n.name);
    }
  }
  await writeLabState(s);
  await waitReady(s, readySince);
  await requireLeases(s, s.vms);
  return report;
}
