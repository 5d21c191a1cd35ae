/**
 * Where a lab lives and what it remembers. /run/vxmesh/<lab>/: lab.json (the topology: namespaces,
 * underlay addresses, VM ports and addresses, agent pids), state/ (the agents' file-source directory:
 * cluster.yaml written by the lab, status/ written by the agents), logs/<node>.log, <node>/bpffs.
 */
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { ModeRequest } from '../dataplane/dataplane.js';
import type { PlannedNic } from './input.js';
import { writeFileAtomic } from '../sources/file/files.js';

export const LAB_ROOT = process.env.VXMESH_LAB_ROOT ?? '/run/vxmesh';

export const labPaths = (lab: string) => {
  const dir = path.join(LAB_ROOT, lab);
  return {
    dir,
    json: path.join(dir, 'lab.json'),
    state: path.join(dir, 'state'),
    cluster: path.join(dir, 'state', 'cluster.yaml'),
    statusDir: path.join(dir, 'state', 'status'),
    logs: path.join(dir, 'logs'),
    log: (node: string) => path.join(dir, 'logs', `${node}.log`),
    bpffs: (node: string) => path.join(dir, node, 'bpffs'),
    /** The agents' --state-dir (last good policies, sources/policy-store.ts). */
    agentState: path.join(dir, 'agent-state'),
    /** With the Kubernetes source: the control plane (etcd + kube-apiserver, src/controlplane) and its data. */
    controlPlane: path.join(dir, 'control-plane'),
    /** The Unix socket between the two relays (underlay switch -> socket -> the API server on loopback). */
    apiSocket: path.join(dir, 'apiserver.sock'),
    /**
     * Kubeconfigs: each node's agent's (ServiceAccount vxmesh-agent, a token bound to that node), the
     * controller's (vxmesh-controller), the user's (admin).
     */
    agentKubeconfig: (node: string) => path.join(dir, `agent-${node}.kubeconfig`),
    controllerKubeconfig: path.join(dir, 'controller.kubeconfig'),
    kubeconfig: path.join(dir, 'kubeconfig'),
    /** The guests' DHCP client script and the lease each guest NIC holds (`<vm>.<ifname>.json`). */
    dhcpScript: path.join(dir, 'udhcpc.script'),
    leases: path.join(dir, 'leases'),
    lease: (vm: string, ifname: string) => path.join(dir, 'leases', `${vm}.${ifname}.json`),
  };
};

/** Namespace prefix of a lab: every namespace it creates is `vxm-<lab>-<name>`. */
export const labPrefix = (lab: string) => `vxm-${lab}`;

export interface LabNodeState {
  name: string;
  netns: string;
  underlayIP: string;
  uplink: string;
  bpffs: string;
  agentPid?: number;
}

/** A planned NIC as the lab created it (guest interface, host port, bridge). */
export interface LabNicState extends Omit<PlannedNic, 'iface' | 'dhcp'> {
  name: string;
  /** Host-side port (in the node namespace) and its bridge. */
  port: string;
  bridge: string;
  /** Guest interface name. */
  ifname: string;
  /** The guest gets its address by DHCP (absent in labs started before DHCP: static). */
  dhcp?: boolean;
}

export interface LabVmState {
  name: string;
  namespace: string;
  netns: string;
  node: string;
  interfaces: LabNicState[];
  createdAt: string;
  /** The guest's DHCP clients (udhcpc), one per DHCP NIC. */
  dhcpClients?: Array<{ ifname: string; pid: number }>;
  /** Each NIC's CNI ADD (lab/cni.ts): kept for its DEL, as Multus caches it. */
  cni?: LabCniAttachment[];
  /** Which launcher pod the VM runs in: absent for the one it started in, n after its n-th live migration (lab/cni.ts launcherSandbox). */
  pod?: number;
}

/** One NIC's CNI attachment: the NAD config its ADD ran with and the plugin's result. */
export interface LabCniAttachment {
  /** The VMI interface name. */
  nic: string;
  config: string;
  result: unknown;
}

/**
 * A lab with the Kubernetes source: its control plane (real etcd + kube-apiserver, whose pids and ports are
 * in the control plane's own state: ControlPlane.attach(controlPlane)), the two relays that carry the
 * agents' connections from the underlay to it, and the controller.
 */
export interface LabKubeState {
  /** Where the lab CLI and the controller reach the API server (loopback of this machine). */
  url: string;
  /** The admin kubeconfig (the lab plays the user, KubeVirt and virt-handler with it). */
  kubeconfigYaml: string;
  /** Where the agents (node namespaces) reach it: a relay on the underlay switch. */
  agentUrl: string;
  /** Directory of the control plane (ControlPlane.attach). */
  controlPlane: string;
  /** What runs there (kube-apiserver's and etcd's versions). */
  versions?: { kubernetes: string; etcd: string };
  /** socat in the underlay switch namespace: API_IP:API_PORT -> the lab's Unix socket. */
  relayPid?: number;
  /** socat on the host: the lab's Unix socket -> kube-apiserver on 127.0.0.1. */
  hostRelayPid?: number;
  controllerPid?: number;
}

export interface LabState {
  lab: string;
  mode: ModeRequest;
  /** Absent in labs started before the Kubernetes source existed: the file source. */
  kube?: LabKubeState;
  /** Repository root whose dist/cli/main.js the agents run. */
  repo: string;
  underlayNetns: string;
  clusterNetwork: string;
  nodes: LabNodeState[];
  external?: { netns: string; ip: string; port: number };
  vms: LabVmState[];
}

export async function readLabState(lab: string): Promise<LabState | undefined> {
  try {
    return JSON.parse(await readFile(labPaths(lab).json, 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

export async function writeLabState(s: LabState): Promise<void> {
  await writeFileAtomic(labPaths(s.lab).json, `${JSON.stringify(s, null, 2)}\n`);
}

/** Labs with a directory under the lab root. */
export async function listLabs(): Promise<string[]> {
  try {
    return (await readdir(LAB_ROOT, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/**
 * Which lab a command means: the one named (--lab), else the only one running.
 * Throws a message listing the choices when ambiguous.
 */
export async function resolveLab(name?: string): Promise<LabState> {
  if (name) {
    const s = await readLabState(name);
    if (!s) throw new Error(`lab ${name} is not running (no ${labPaths(name).json})`);
    return s;
  }
  const labs = await listLabs();
  const states = (await Promise.all(labs.map(readLabState))).filter((s): s is LabState => !!s);
  if (states.length === 1) return states[0]!;
  if (states.length === 0) throw new Error('no lab is running (start one with: vxmesh lab up -f examples/lab.yaml)');
  throw new Error(`several labs are running (${states.map((s) => s.lab).join(', ')}): choose one with --lab NAME`);
}

export function underlayIP(index: number): string {
  return `198.18.0.${11 + index}`;
}
export const EXTERNAL_IP = '198.18.0.254';
export const EXTERNAL_PORT = 8080;
/** With the Kubernetes source, agents reach the lab's API server here (a relay on the underlay switch; the serving certificate names it). */
export const API_IP = '198.18.0.250';
export const API_PORT = 6443;
