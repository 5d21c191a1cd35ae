/**
 * The lab's agents: one real `vxmesh agent` process per node, inside the node's network namespace
 * (nsenter --net only, so /run/netns and the bpffs mounts stay shared), reading the lab's state directory
 * (file source) or the lab's API server (Kubernetes source).
 */
import path from 'node:path';
import type { VxlanStatus } from '../model/schema.js';
import { labCluster } from './cluster.js';
import { isAlive, sleep, spawnDetached, stopPid } from './processes.js';
import { labPaths, type LabNodeState, type LabState } from './state.js';

/** `--source …` for vxmesh commands run inside lab node `node` (agent, inspect): with Kubernetes, as that node's agent. */
export function sourceArgs(s: LabState, node: string): string[] {
  return s.kube ? ['--source', 'kubernetes', '--kubeconfig', labPaths(s.lab).agentKubeconfig(node)] : ['--source', `file:${labPaths(s.lab).state}`];
}

export function agentArgv(s: LabState, n: LabNodeState): string[] {
  return [
    'nsenter', `--net=/run/netns/${n.netns}`, '--',
    process.execPath, path.join(s.repo, 'dist/cli/main.js'),
    'agent', '--node', n.name, ...sourceArgs(s, n.name), '--mode', s.mode, '--bpffs', n.bpffs, '--resync', '2',
    '--state-dir', labPaths(s.lab).agentState,
  ];
}

export function startAgent(s: LabState, n: LabNodeState): number {
  const pid = spawnDetached(agentArgv(s, n), labPaths(s.lab).log(n.name));
  n.agentPid = pid;
  return pid;
}

export async function stopAgent(n: LabNodeState): Promise<void> {
  await stopPid(n.agentPid);
  n.agentPid = undefined;
}

export const agentRunning = (n: LabNodeState) => isAlive(n.agentPid);

/** Every node's published status for the lab's cluster network, by node. */
export function readStatuses(s: LabState): Promise<Map<string, VxlanStatus>> {
  return labCluster(s).statuses();
}

export interface ReadyProblem {
  node: string;
  why: string;
}

/** Problems keeping nodes from being ready with a reconcile newer than `since` (empty = all ready). */
export async function readiness(s: LabState, since: number): Promise<ReadyProblem[]> {
  const st = await readStatuses(s);
  const problems: ReadyProblem[] = [];
  for (const n of s.nodes) {
    const status = st.get(n.name)?.status;
    if (!agentRunning(n)) problems.push({ node: n.name, why: `agent not running (see ${labPaths(s.lab).log(n.name)})` });
    else if (!status) problems.push({ node: n.name, why: 'no status published yet' });
    else if (!status.ready) problems.push({ node: n.name, why: `not ready: ${status.message ?? ''}` });
    // A mode switch: a pass the old agent made just before it was stopped must not count.
    else if (s.mode !== 'auto' && status.mode !== s.mode) problems.push({ node: n.name, why: `still in ${status.mode} mode` });
    else if (!status.lastReconcile || Date.parse(status.lastReconcile) < since) problems.push({ node: n.name, why: 'no reconcile since the last change yet' });
  }
  return problems;
}

/**
 * Waits until every agent is ready and has applied a snapshot taken after `since` and after every node had
 * published its VTEP (so each node knows the full mesh); throws naming the laggards.
 */
export async function waitReady(s: LabState, since: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let problems: ReadyProblem[] = [];
  let after = since;
  let meshKnown = false;
  for (let first = true; Date.now() < deadline; first = false) {
    if (!meshKnown) {
      const st = await readStatuses(s);
      meshKnown = s.nodes.every((n) => !!st.get(n.name)?.status.vtepIP);
      // Known from the start: `since` suffices; learnt now: every node must have seen the last VTEP.
      if (meshKnown && !first) after = Math.max(since, Date.now());
    }
    problems = await readiness(s, after);
    if (meshKnown && !problems.length) return;
    if (problems.some((p) => p.why.startsWith('agent not running'))) break;
    await sleep(100);
  }
  throw new Error(`agents not ready after ${Math.round(timeoutMs / 1000)} s: ${problems.map((p) => `${p.node}: ${p.why}`).join('; ')}`);
}
