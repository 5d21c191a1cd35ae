/**
 * The Kubernetes side of a lab started with `--source kubernetes`: a real control plane (etcd +
 * kube-apiserver, src/controlplane) with its data in the lab's directory, two relays that make it reachable
 * from the node namespaces on the underlay switch (https://API_IP:API_PORT), and the real `vxmesh
 * controller`.
 *
 * kube-apiserver listens on 127.0.0.1 only, for the lab CLI and the controller. The agents reach it through
 * socat inside the underlay switch namespace (TCP API_IP:API_PORT -> a Unix socket in the lab directory)
 * and socat on the host (that socket -> 127.0.0.1:<port>). No namespace gets a route to the host: the one
 * way across is that socket. TLS goes end to end: the serving certificate names API_IP and the agents
 * verify it with the control plane's CA.
 *
 * Into the server go the chart, deploy/chart, as the README's `helm install` puts it there (the namespace
 * from deploy/namespace.yaml, then what `helm template … --include-crds` renders, minus the workloads:
 * kube-apply.ts) and the upstream CRDs of the objects vxmesh reads; the agents run as ServiceAccount
 * vxmesh-system/vxmesh-agent (each with a token bound to a Pod on its node, as a DaemonSet pod's) and the
 * controller as vxmesh-controller, with TokenRequest tokens: the chart's RBAC and admission policy, never
 * admin. The admin kubeconfig is the user's (the lab itself plays the user, KubeVirt and virt-handler with it).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ControlPlane } from '../controlplane/control-plane.js';
import { writeAtomically } from '../controlplane/kubeconfig.js';
import { podBoundToken } from '../controlplane/pod-token.js';
import { missingKubeTools } from '../controlplane/tools-cache.js';
import { kubeTools } from '../controlplane/tools.js';
import { installUpstreamCrds } from '../controlplane/upstream-crds.js';
import { loadKubeConfig } from '../k8s/client.js';
import { RESOURCES } from '../k8s/resources.js';
import { run } from '../util/exec.js';
import { applyDeploy, waitServed } from './kube-apply.js';
import { isAlive, sleep, spawnDetached, stopPid } from './processes.js';
import { API_IP, API_PORT, labPaths, type LabKubeState, type LabState } from './state.js';
import { UNDERLAY_BRIDGE } from './topology.js';

/** Progress lines for the user (`lab up` prints them). */
export type Progress = (line: string) => void;

const logOf = (s: LabState, what: string) => path.join(labPaths(s.lab).logs, `${what}.log`);

const AGENT_SA = 'vxmesh-agent';
const CONTROLLER_SA = 'vxmesh-controller';
const SA_NAMESPACE = 'vxmesh-system';
const saUser = (name: string) => `system:serviceaccount:${SA_NAMESPACE}:${name}`;
/** The lab's tokens last 30 days (a lab is not meant to run longer; the server allows up to a year). */
const TOKEN_SECONDS = 30 * 86_400;

/** Lab `lab`'s control plane (it records its own pids and ports), or undefined when it has none (any more). */
export function labControlPlane(lab: string): ControlPlane | undefined {
  const dir = labPaths(lab).controlPlane;
  try {
    return ControlPlane.attach(dir);
  } catch {
    return undefined;
  }
}

function requireControlPlane(s: LabState): ControlPlane {
  if (!s.kube) throw new Error(`lab ${s.lab} runs with the file source: it has no API server`);
  const cp = labControlPlane(s.lab);
  if (!cp) throw new Error(`lab ${s.lab}: its control plane is gone (no ${s.kube.controlPlane}/state.json); run \`vxmesh lab down --lab ${s.lab}\` and up again`);
  return cp;
}

/** Builds kube-apiserver, etcd and helm if this machine has not yet (minutes, once), saying so first. */
function ensureTools(progress: Progress): void {
  const missing = missingKubeTools();
  if (!missing.length) return;
  progress(`Building ${new Intl.ListFormat('en').format(missing.map((t) => `${t.name} ${t.version}`))} from the official Go modules (first use; minutes on a small machine, cached afterwards) …`);
  const t0 = Date.now();
  kubeTools();
  progress(`Built in ${Math.round((Date.now() - t0) / 1000)} s.`);
}

/**
 * Starts the control plane, the relays and fills the server (the chart, upstream CRDs); writes the three
 * kubeconfigs; records everything in `s.kube` (the caller saves the lab state).
 */
export async function startLabApi(s: LabState, progress: Progress = () => {}): Promise<LabKubeState> {
  const p = labPaths(s.lab);
  ensureTools(progress);
  const kube: LabKubeState = { url: '', kubeconfigYaml: '', agentUrl: `https://${API_IP}:${API_PORT}`, controlPlane: p.controlPlane };
  s.kube = kube; // before the start, so that `lab down` looks for it even if we fail half-way
  const t0 = Date.now();
  const cp = await ControlPlane.start({ dir: p.controlPlane, extraAddresses: [API_IP] });
  kube.url = cp.url;
  kube.versions = cp.versions;
  kube.kubeconfigYaml = cp.adminKubeconfig();
  writeAtomically(p.kubeconfig, kube.kubeconfigYaml);
  progress(`kube-apiserver ${cp.versions.kubernetes} and etcd ${cp.versions.etcd} ready at ${cp.url} (${((Date.now() - t0) / 1000).toFixed(1)} s); relaying https://${API_IP}:${API_PORT} on the underlay to it.`);
  await run(['ip', 'addr', 'replace', `${API_IP}/24`, 'dev', UNDERLAY_BRIDGE], { netns: s.underlayNetns });
  await startRelays(s);
  const chart = await applyDeploy(p.kubeconfig, s.repo);
  await installUpstreamCrds(cp);
  await waitLabResources(s);
  progress(`Installed the chart deploy/chart (namespace ${chart.namespace.metadata.name} from deploy/namespace.yaml, then \`${chart.command}\`: CRDs, ServiceAccounts, RBAC, admission policy; not ${chart.skipped.map((o) => `${o.kind} ${o.metadata.name}`).join(', ')}: the lab runs those as processes) and the upstream CRDs.`);
  // Each agent's token is bound to a Pod on its node, as the kubelet's for a DaemonSet pod: the API server
  // then names the node in the agent's identity and deploy/'s admission policy holds it to its own status.
  for (const n of s.nodes) {
    const token = await podBoundToken(cp, { namespace: SA_NAMESPACE, serviceAccount: AGENT_SA, node: n.name, expirationSeconds: TOKEN_SECONDS });
    writeAtomically(p.agentKubeconfig(n.name), cp.tokenKubeconfig(token, saUser(AGENT_SA), kube.agentUrl));
  }
  writeAtomically(p.controllerKubeconfig, cp.tokenKubeconfig(await cp.serviceAccountToken(SA_NAMESPACE, CONTROLLER_SA, TOKEN_SECONDS), saUser(CONTROLLER_SA)));
  return kube;
}

/** How a restart of kube-apiserver went (ms): stopping it (graceful), the outage asked for, until it served again. */
export interface ApiRestart {
  pid: number;
  stopMs: number;
  downMs: number;
  startMs: number;
}

/**
 * Restarts kube-apiserver on the same etcd and port (cp.restartApiServer's steps, timed), `downMs` of
 * outage between. Agents keep forwarding meanwhile and resync through their informers once it is back.
 */
export async function restartLabApi(s: LabState, downMs = 0): Promise<ApiRestart> {
  const cp = requireControlPlane(s);
  const t0 = Date.now();
  await cp.stopApiServer();
  const stopMs = Date.now() - t0;
  if (downMs) await sleep(downMs);
  const t1 = Date.now();
  await cp.startApiServer();
  await waitLabResources(s);
  return { pid: cp.state.apiPid!, stopMs, downMs, startMs: Date.now() - t1 };
}

/** /readyz says ready before each custom resource's storage is: waits until every resource vxmesh uses lists. */
function waitLabResources(s: LabState): Promise<void> {
  return waitServed(loadKubeConfig({ kubeconfigYaml: s.kube!.kubeconfigYaml }), Object.values(RESOURCES).filter((r) => r.group));
}

/** The host side: the lab's Unix socket -> kube-apiserver on loopback. */
function startHostRelay(s: LabState, cp: ControlPlane): void {
  const sock = labPaths(s.lab).apiSocket;
  s.kube!.hostRelayPid = spawnDetached([
    'socat', `UNIX-LISTEN:${sock},fork,unlink-early,mode=600`, `TCP:127.0.0.1:${cp.state.apiPort}`,
  ], logOf(s, 'apirelay-host'));
}

/** The underlay side: API_IP:API_PORT in the underlay switch namespace -> the lab's Unix socket. */
function startUnderlayRelay(s: LabState): void {
  s.kube!.relayPid = spawnDetached([
    'nsenter', `--net=/run/netns/${s.underlayNetns}`, '--',
    'socat', `TCP-LISTEN:${API_PORT},bind=${API_IP},fork,reuseaddr`, `UNIX-CONNECT:${labPaths(s.lab).apiSocket}`,
  ], logOf(s, 'apirelay'));
}

async function startRelays(s: LabState): Promise<void> {
  startHostRelay(s, requireControlPlane(s));
  const sock = labPaths(s.lab).apiSocket;
  for (let i = 0; i < 100 && !existsSync(sock); i++) await sleep(20);
  if (!existsSync(sock)) throw new Error(`the host relay did not create ${sock} (see ${logOf(s, 'apirelay-host')}):\n${tail(logOf(s, 'apirelay-host'))}`);
  startUnderlayRelay(s);
}

function tail(file: string, lines = 5): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Starts `vxmesh controller` (with leader election, as deployed) as ServiceAccount vxmesh-controller. */
export function startController(s: LabState): number {
  const pid = spawnDetached([
    process.execPath, path.join(s.repo, 'dist/cli/main.js'), 'controller', '--kubeconfig', labPaths(s.lab).controllerKubeconfig,
  ], logOf(s, 'controller'));
  s.kube!.controllerPid = pid;
  return pid;
}

export async function stopController(s: LabState): Promise<void> {
  await stopPid(s.kube?.controllerPid);
  if (s.kube) s.kube.controllerPid = undefined;
}

export const controllerRunning = (s: LabState) => isAlive(s.kube?.controllerPid);

const etcdRunning = (cp: ControlPlane) => isAlive(cp.state.etcdPid);

/**
 * Restarts whatever of kube-apiserver, the relays and the controller has died; etcd holds the objects, so
 * only a dead etcd is an error. Returns what it started again.
 */
export async function reviveKube(s: LabState): Promise<string[]> {
  const revived: string[] = [];
  if (!s.kube) return revived;
  const cp = requireControlPlane(s);
  if (!etcdRunning(cp)) throw new Error(`etcd of lab ${s.lab} is not running (see ${cp.log('etcd')}); run \`vxmesh lab down --lab ${s.lab}\` and up again`);
  if (!cp.apiServerRunning()) {
    await cp.startApiServer();
    await waitLabResources(s);
    revived.push('kube-apiserver');
  }
  if (!isAlive(s.kube.hostRelayPid)) {
    startHostRelay(s, cp);
    revived.push('apirelay-host');
  }
  if (!isAlive(s.kube.relayPid)) {
    startUnderlayRelay(s);
    revived.push('apirelay');
  }
  if (!controllerRunning(s)) {
    startController(s);
    revived.push('controller');
  }
  return revived;
}

/**
 * Stops the controller, the relays and the control plane (in that order) and removes the control plane's
 * data. Works from the control plane's own state when the lab state is lost (`s` absent): `lab down` always
 * leaves nothing running.
 */
export async function stopLabApi(lab: string, s?: LabState): Promise<void> {
  if (s?.kube) {
    await stopController(s);
    await stopPid(s.kube.relayPid);
    await stopPid(s.kube.hostRelayPid);
  }
  await labControlPlane(lab)?.stop();
}
