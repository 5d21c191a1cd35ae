/**
 * The Kubernetes side of a lab started with `--source kubernetes`: the API server (the double from
 * src/testing/apiserver, the one part that cannot be real on this machine), a relay that makes it reachable
 * from the node namespaces on the underlay switch (API_IP:API_PORT), and the real `vxmesh controller`.
 *
 * The API server listens on loopback for the lab CLI and the controller, and on a Unix socket in the lab
 * directory; socat inside the underlay switch namespace relays TCP API_IP:API_PORT to that socket. No
 * namespace gets a route to the host: the only way across is that one socket.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { kubeconfigYaml } from '../testing/apiserver/server.js';
import { run } from '../util/exec.js';
import { isAlive, sleep, spawnDetached, stopPid } from './processes.js';
import { API_IP, API_PORT, labPaths, type LabKubeState, type LabState } from './state.js';
import { UNDERLAY_BRIDGE } from './topology.js';

const logOf = (s: LabState, what: string) => path.join(labPaths(s.lab).logs, `${what}.log`);

function tail(file: string, lines = 5): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function waitFor(what: string, ok: () => boolean, pid: number, log: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (!isAlive(pid)) throw new Error(`${what} exited (see ${log}):\n${tail(log)}`);
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${timeoutMs / 1000} s (see ${log})`);
    await sleep(50);
  }
}

function spawnApi(s: LabState, port: number): number {
  const p = labPaths(s.lab);
  return spawnDetached([
    process.execPath, path.join(s.repo, 'dist/testing/apiserver/main.js'),
    '--host', '127.0.0.1', '--port', String(port), '--unix', p.apiSocket, '--kubeconfig-out', p.kubeconfig, '--state', p.apiState,
  ], logOf(s, 'apiserver'));
}

/** The API server writes its kubeconfig only once it serves on TCP and on the Unix socket. */
async function waitApi(s: LabState, pid: number): Promise<string> {
  const p = labPaths(s.lab);
  await waitFor('the lab API server', () => existsSync(p.kubeconfig), pid, logOf(s, 'apiserver'));
  return readFileSync(p.kubeconfig, 'utf8');
}

/** Starts the API server and its relay onto the underlay; records them in `s.kube`. */
export async function startLabApi(s: LabState): Promise<LabKubeState> {
  const p = labPaths(s.lab);
  const apiPid = spawnApi(s, 0);
  const kube: LabKubeState = { url: '', kubeconfigYaml: '', agentUrl: `http://${API_IP}:${API_PORT}`, agentKubeconfig: p.agentKubeconfig, apiPid };
  s.kube = kube;
  kube.kubeconfigYaml = await waitApi(s, apiPid);
  kube.url = String((YAML.parse(kube.kubeconfigYaml) as any)?.clusters?.[0]?.cluster?.server ?? '');
  writeFileSync(p.agentKubeconfig, kubeconfigYaml(kube.agentUrl));
  await run(['ip', 'addr', 'replace', `${API_IP}/24`, 'dev', UNDERLAY_BRIDGE], { netns: s.underlayNetns });
  startRelay(s);
  return kube;
}

/**
 * Restarts the API server process: SIGTERM (it saves its objects), `downMs` of outage, then the same port and
 * state again. Agents keep forwarding meanwhile and resync through their informers once it is back.
 */
export async function restartLabApi(s: LabState, downMs = 0): Promise<number> {
  if (!s.kube) throw new Error(`lab ${s.lab} runs with the file source: it has no API server`);
  await stopPid(s.kube.apiPid);
  rmSync(labPaths(s.lab).kubeconfig, { force: true });
  if (downMs) await sleep(downMs);
  const pid = spawnApi(s, Number(new URL(s.kube.url).port));
  s.kube.apiPid = pid;
  await waitApi(s, pid);
  return pid;
}

function startRelay(s: LabState): void {
  const kube = s.kube!;
  kube.relayPid = spawnDetached([
    'nsenter', `--net=/run/netns/${s.underlayNetns}`, '--',
    'socat', `TCP-LISTEN:${API_PORT},bind=${API_IP},fork,reuseaddr`, `UNIX-CONNECT:${labPaths(s.lab).apiSocket}`,
  ], logOf(s, 'apirelay'));
}

/** Starts `vxmesh controller` (with leader election, as deployed) against the lab's API server. */
export function startController(s: LabState): number {
  const pid = spawnDetached([
    process.execPath, path.join(s.repo, 'dist/cli/main.js'), 'controller', '--kubeconfig', labPaths(s.lab).kubeconfig,
  ], logOf(s, 'controller'));
  s.kube!.controllerPid = pid;
  return pid;
}

export async function stopController(s: LabState): Promise<void> {
  await stopPid(s.kube?.controllerPid);
  if (s.kube) s.kube.controllerPid = undefined;
}

export const controllerRunning = (s: LabState) => isAlive(s.kube?.controllerPid);

/** Restarts whatever of the API server's relay and the controller has died (e.g. after a reboot of nothing but them). */
export function reviveKube(s: LabState): string[] {
  const revived: string[] = [];
  if (!s.kube) return revived;
  if (!isAlive(s.kube.relayPid)) {
    startRelay(s);
    revived.push('apirelay');
  }
  if (!controllerRunning(s)) {
    startController(s);
    revived.push('controller');
  }
  return revived;
}

export function apiRunning(s: LabState): boolean {
  return isAlive(s.kube?.apiPid);
}

/** Stops the controller, the relay and the API server (in that order). */
export async function stopLabApi(s: LabState): Promise<void> {
  if (!s.kube) return;
  await stopController(s);
  await stopPid(s.kube.relayPid);
  await stopPid(s.kube.apiPid);
}
