/**
 * Operations on a running lab: live-migrate a VM (KubeVirt's part: announce the target in the VMI status,
 * move the port, announce the guest with a gratuitous ARP, complete the VMI status), restart a node's agent
 * or the controller, resolve `lab exec` targets.
 */
import { run } from '../util/exec.js';
import { startAgent, stopAgent, waitReady } from './agents.js';
import { labCluster } from './cluster.js';
import { controllerRunning, startController, stopController } from './kube.js';
import { writeLabState, type LabState } from './state.js';
import { moveVmPort } from './topology.js';
import { nodeNetns } from './vms.js';
import { waitLeases } from './dhcp-client.js';

export interface MigrateResult {
  from: string;
  to: string;
  /** From moving the port to every agent having reconciled the new placement. */
  convergedMs: number;
  /** Guest NICs (`vm/ifname`) whose DHCP renewal after the move was not answered with their address. */
  notRenewed?: string[];
}

export async function migrateVm(s: LabState, vmName: string, to: string): Promise<MigrateResult> {
  const vm = s.vms.find((v) => v.name === vmName);
  if (!vm) throw new Error(`lab ${s.lab} has no VM ${vmName} (VMs: ${s.vms.map((v) => v.name).join(', ')})`);
  const toNs = nodeNetns(s, to);
  const from = vm.node;
  if (from === to) return { from, to, convergedMs: 0 };
  const fromNs = nodeNetns(s, from);
  const cluster = labCluster(s);
  // As virt-controller does once the target pod runs: the VMI names its target while it still runs on the
  // source, so that the target node can admit the guest's first frames the moment it resumes there.
  await cluster.updateVmiStatus(vm, { nodeName: from, migrationState: { sourceNode: from, targetNode: to, startTimestamp: new Date().toISOString() } });
  // After the write: a source read begun before it could confirm the old VMI with a later time stamp.
  await waitReady(s, Date.now());
  const started = Date.now();
  for (const nic of vm.interfaces) await moveVmPort(nic.port, fromNs, toNs, nic.bridge);
  // The guest resumes on the target and QEMU announces it at once, before virt-handler completes the VMI
  // status: gratuitous ARPs in rounds (QEMU's announce-rounds=5, 100 ms apart); arping -U is the equivalent.
  const announces = vm.interfaces.map((nic) =>
    run(['arping', '-U', '-c', '5', '-i', '0.1', '-I', nic.ifname, nic.ip], { netns: vm.netns, allowFailure: true }));
  await cluster.updateVmiStatus(vm, {
    nodeName: to,
    migrationState: { sourceNode: from, targetNode: to, completed: true, endTimestamp: new Date().toISOString() },
  });
  const switched = Date.now();
  vm.node = to;
  await writeLabState(s);
  await Promise.all(announces);
  await waitReady(s, switched);
  const convergedMs = Date.now() - started;
  // The guest keeps running and renews its lease (SIGUSR1, as after a link flap): the new node must answer it.
  const renewFrom = Date.now();
  const notRenewed = await waitLeases(s, [vm], renewFrom, 10_000);
  return { from, to, convergedMs, ...(notRenewed.length ? { notRenewed } : {}) };
}

export async function restartAgent(s: LabState, node: string): Promise<number> {
  const n = s.nodes.find((x) => x.name === node);
  if (!n) throw new Error(`lab ${s.lab} has no node ${node} (nodes: ${s.nodes.map((x) => x.name).join(', ')})`);
  const since = Date.now();
  await stopAgent(n);
  const pid = startAgent(s, n);
  await writeLabState(s);
  await waitReady(s, since);
  return pid;
}

/** Restarts the controller of a lab with the Kubernetes source; returns its new pid. */
export async function restartController(s: LabState): Promise<number> {
  if (!s.kube) throw new Error(`lab ${s.lab} runs with the file source: it has no controller (the lab allocates addresses itself)`);
  await stopController(s);
  const pid = startController(s);
  await writeLabState(s);
  for (let i = 0; i < 50 && controllerRunning(s); i++) await new Promise((r) => setTimeout(r, 20));
  if (!controllerRunning(s)) throw new Error(`the controller of lab ${s.lab} exited at once (see its log in the lab's logs/)`);
  return pid;
}

/** The namespace `lab exec NAME` runs in: a VM, a node, `external` or `underlay`. */
export function execTarget(s: LabState, name: string): string {
  const vm = s.vms.find((v) => v.name === name);
  if (vm) return vm.netns;
  const node = s.nodes.find((n) => n.name === name);
  if (node) return node.netns;
  if ((name === 'external' || name === 'ext') && s.external) return s.external.netns;
  if (name === 'underlay') return s.underlayNetns;
  throw new Error(`lab ${s.lab} has no VM or node named ${name} (VMs: ${s.vms.map((v) => v.name).join(', ')}; nodes: ${s.nodes.map((n) => n.name).join(', ')}${s.external ? '; external' : ''})`);
}
