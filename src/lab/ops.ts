/**
 * Operations on a running lab: live-migrate a VM (KubeVirt's part: move the port, update the VMI status,
 * announce the guest with a gratuitous ARP), restart a node's agent, resolve `lab exec` targets.
 */
import { readFile } from 'node:fs/promises';
import { run } from '../util/exec.js';
import { writeFileAtomic } from '../sources/file/files.js';
import { parseDocuments } from '../sources/validate.js';
import { startAgent, stopAgent, waitReady } from './agents.js';
import { objectsToYaml } from './input.js';
import { labPaths, writeLabState, type LabState } from './state.js';
import { moveVmPort } from './topology.js';
import { nodeNetns } from './vms.js';
import { waitLeases } from './dhcp-client.js';

const isObj = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Sets a VMI's status.nodeName (and a completed migrationState) in the lab's state file. */
export async function setVmiNode(s: LabState, vm: { name: string; namespace: string }, from: string, to: string): Promise<void> {
  const file = labPaths(s.lab).cluster;
  const parsed = parseDocuments(await readFile(file, 'utf8'), file);
  if (parsed.errors.length) throw parsed.errors[0]!;
  const docs = parsed.docs.map((d) => {
    if (!isObj(d) || d.kind !== 'VirtualMachineInstance' || d.metadata?.name !== vm.name || (d.metadata?.namespace ?? 'default') !== vm.namespace) return d;
    const status = isObj(d.status) ? d.status : {};
    return {
      ...d,
      status: {
        ...status,
        nodeName: to,
        migrationState: { sourceNode: from, targetNode: to, completed: true, endTimestamp: new Date().toISOString() },
      },
    };
  });
  await writeFileAtomic(file, objectsToYaml(docs));
}

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
  const started = Date.now();
  for (const nic of vm.interfaces) await moveVmPort(nic.port, fromNs, toNs, nic.bridge);
  await setVmiNode(s, vm, from, to);
  vm.node = to;
  await writeLabState(s);
  // QEMU announces the guest after the move (RARP/gARP); arping -U is the closest equivalent.
  for (const nic of vm.interfaces) await run(['arping', '-U', '-c', '1', '-I', nic.ifname, nic.ip], { netns: vm.netns, allowFailure: true });
  await waitReady(s, started);
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
