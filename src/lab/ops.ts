/**
 * Operations on a running lab: live-migrate a VM (KubeVirt's part: announce the target in the VMI status,
 * plug the target pod by CNI ADD, switch the guest over to it, announce the guest with a gratuitous ARP,
 * complete the VMI status, remove the source pod by CNI DEL), restart a node's agent
 * or the controller, resolve `lab exec` targets.
 */
import { run } from '../util/exec.js';
import { startAgent, stopAgent, waitReady } from './agents.js';
import { labCluster } from './cluster.js';
import { controllerRunning, startController, stopController } from './kube.js';
import { labPaths, writeLabState, type LabCniAttachment, type LabState, type LabVmState } from './state.js';
import { addNetns, armSwitchover, guestNicState, type Switchover } from './topology.js';
import { deleteNetns, nodeNetns } from './vms.js';
import { cniAdd, labPortName, launcherSandbox, unplugNic } from './cni.js';
import { kubevirtPodIfname } from '../dataplane/port-binding.js';
import { waitLeases } from './dhcp-client.js';

export interface MigrateResult {
  from: string;
  to: string;
  /** From the switchover (the guest resumes on the target pod's NICs) to every agent having reconciled the new placement. */
  convergedMs: number;
  /** Guest NICs (`vm/ifname`) whose DHCP renewal after the move was not answered with their address. */
  notRenewed?: string[];
}

export async function migrateVm(s: LabState, vmName: string, to: string): Promise<MigrateResult> {
  const vm = s.vms.find((v) => v.name === vmName);
  if (!vm) throw new Error(`lab ${s.lab} has no VM ${vmName} (VMs: ${s.vms.map((v) => v.name).join(', ')})`);
  nodeNetns(s, to); // names the node, or throws
  const from = vm.node;
  if (from === to) return { from, to, convergedMs: 0 };
  const cluster = labCluster(s);
  // As virt-controller does once the target pod runs: the VMI names its target while it still runs on the
  // source, so that the target node can admit the guest's first frames the moment it resumes there.
  await cluster.updateVmiStatus(vm, { nodeName: from, migrationState: { sourceNode: from, targetNode: to, startTimestamp: new Date().toISOString() } });
  // The target pod, plugged on the target node by its own CNI ADD before the guest moves, as KubeVirt's is.
  const source: LabVmState = { ...vm, interfaces: vm.interfaces.map((n) => ({ ...n })) };
  const target = { ...vm, node: to, pod: (vm.pod ?? 0) + 1 };
  const sandbox = launcherSandbox(target);
  const cni: LabCniAttachment[] = [];
  let switchover: Switchover;
  try {
    await addNetns(sandbox);
    // Nothing may speak from the target pod's interfaces before the switchover (an IPv6 autoconfiguration
    // frame from the guest's MAC would be the guest arriving early); moved into the guest, they get its settings.
    await run(['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'], { netns: sandbox, allowFailure: true });
    for (const nic of vm.interfaces) cni.push(await cniAdd(s, target, nic, to));
    const guest = await Promise.all(vm.interfaces.map((nic) => guestNicState(vm.netns, nic.ifname, kubevirtPodIfname(nic.name))));
    // The guest resumes on the target and QEMU announces it at once, before virt-handler completes the VMI status.
    switchover = await armSwitchover(vm.netns, sandbox, guest, vm.interfaces.map((n) => ({ ifname: n.ifname, ip: n.ip })), labPaths(s.lab).dir);
  } catch (err) {
    // As KubeVirt when the target pod cannot start: the migration failed, the guest stays on the source.
    for (const a of cni) await unplugNic(s, { ...target, cni }, vm.interfaces.find((n) => n.name === a.nic)!).catch(() => undefined);
    await deleteNetns(sandbox);
    await cluster.updateVmiStatus(vm, { nodeName: from, migrationState: { sourceNode: from, targetNode: to, failed: true, endTimestamp: new Date().toISOString() } });
    throw err;
  }
  // After the writes: the target agent has bound the new ports, and no source read begun before the status
  // write can confirm the old VMI with a later time stamp.
  await waitReady(s, Date.now());
  const started = Date.now();
  await switchover.go();
  await cluster.updateVmiStatus(vm, {
    nodeName: to,
    migrationState: { sourceNode: from, targetNode: to, completed: true, endTimestamp: new Date().toISOString() },
  });
  const switched = Date.now();
  vm.node = to;
  vm.pod = target.pod;
  vm.cni = cni;
  for (const nic of vm.interfaces) nic.port = labPortName(vm, nic);
  await writeLabState(s);
  await waitReady(s, switched);
  const convergedMs = Date.now() - started;
  await switchover.done;
  // The source pod goes once the migration completed: its CNI DEL on the source node. The target pod's
  // sandbox is empty now (its interfaces moved into the guest) and goes too.
  for (const nic of source.interfaces) await unplugNic(s, source, nic);
  await deleteNetns(sandbox);
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
