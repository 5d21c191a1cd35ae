/**
 * `lab status`: nodes (underlay IP, mode, agent ready) and VMs (node, interfaces: the published allocation
 * and the address the guest actually holds, with its DHCP lease), as a table or JSON.
 */
import { agentRunning, readStatuses } from './agents.js';
import { guestAddress, readLease, type GuestLease } from './dhcp-client.js';
import type { VxlanStatus } from '../model/schema.js';
import { isAlive } from './processes.js';
import { controllerRunning, labControlPlane } from './kube.js';
import { labPaths, type LabState } from './state.js';
import { table } from './table.js';

export interface LabStatusJson {
  lab: string;
  /** Where the agents read the cluster from; with kubernetes, the lab's API server and controller. */
  source: 'file' | 'kubernetes';
  /**
   * With the Kubernetes source: kube-apiserver (`url` on loopback, `agentUrl` on the underlay), the admin
   * `kubeconfig` for the user, kube-apiserver's and etcd's versions.
   */
  apiserver?: {
    url: string; agentUrl: string; kubeconfig: string; running: boolean; controllerRunning: boolean;
    version?: string; etcdVersion?: string; etcdRunning?: boolean;
  };
  nodes: Array<{ name: string; netns: string; underlayIP: string; mode: string | null; agentReady: boolean; message?: string }>;
  vms: Array<{ name: string; namespace: string; node: string; netns: string; interfaces: Array<{ name: string; network: string; mac: string; ip: string; guest: GuestNicStatus }> }>;
  external?: { netns: string; ip: string };
}

/** What the guest holds on a NIC: `ip` is its IPv4/prefix now (null: none); `lease` the DHCP lease it recorded. */
export interface GuestNicStatus {
  addressing: 'dhcp' | 'static';
  ip: string | null;
  lease?: GuestLease;
}

function apiserverStatus(s: LabState): LabStatusJson['apiserver'] {
  if (!s.kube) return undefined;
  const cp = labControlPlane(s.lab);
  return {
    url: s.kube.url, agentUrl: s.kube.agentUrl, kubeconfig: labPaths(s.lab).kubeconfig,
    running: !!cp?.apiServerRunning(), controllerRunning: controllerRunning(s),
    ...(s.kube.versions ? { version: s.kube.versions.kubernetes, etcdVersion: s.kube.versions.etcd } : {}),
    etcdRunning: isAlive(cp?.state.etcdPid),
  };
}

export async function labStatus(s: LabState): Promise<LabStatusJson> {
  const st = await readStatuses(s).catch(() => new Map<string, VxlanStatus>());
  const apiserver = apiserverStatus(s);
  return {
    lab: s.lab,
    source: s.kube ? 'kubernetes' : 'file',
    ...(apiserver ? { apiserver } : {}),
    nodes: s.nodes.map((n) => {
      const x = st.get(n.name)?.status;
      return {
        name: n.name,
        netns: n.netns,
        underlayIP: n.underlayIP,
        mode: x?.mode ?? null,
        agentReady: agentRunning(n) && !!x?.ready,
        ...(x?.message ? { message: x.message } : {}),
      };
    }),
    vms: await Promise.all(s.vms.map(async (v) => ({
      name: v.name,
      namespace: v.namespace,
      node: v.node,
      netns: v.netns,
      interfaces: await Promise.all(v.interfaces.map(async (i) => {
        const lease = i.dhcp ? readLease(s.lab, v.name, i.ifname) : undefined;
        const guest: GuestNicStatus = { addressing: i.dhcp ? 'dhcp' : 'static', ip: await guestAddress(v.netns, i.ifname), ...(lease ? { lease } : {}) };
        return { name: i.name, network: i.network, mac: i.mac, ip: i.ip, guest };
      })),
    }))),
    ...(s.external ? { external: { netns: s.external.netns, ip: s.external.ip } } : {}),
  };
}

export function formatStatus(j: LabStatusJson): string {
  const nodes = table(
    ['NODE', 'UNDERLAY IP', 'MODE', 'AGENT READY', 'NAMESPACE'],
    j.nodes.map((n) => [n.name, n.underlayIP, n.mode ?? '?', n.agentReady ? 'yes' : `no${n.message ? ` (${n.message})` : ''}`, n.netns]),
  );
  const vms = table(
    ['VM', 'NAMESPACE', 'NODE', 'NETWORK', 'MAC', 'IP', 'GUEST HOLDS'],
    j.vms.flatMap((v) => v.interfaces.map((i, k) => [k ? '' : v.name, k ? '' : v.namespace, k ? '' : v.node, i.network, i.mac, i.ip, guestText(i.guest)])),
  );
  const ext = j.external ? `\nExternal host: ${j.external.ip} (namespace ${j.external.netns}, TCP 8080 echoes the client's source address)\n` : '';
  const a = j.apiserver;
  const versions = a?.version ? ` (kube-apiserver ${a.version}, etcd ${a.etcdVersion}${a.etcdRunning === false ? ' NOT RUNNING' : ''})` : '';
  const api = a
    ? `\nAPI server: ${a.url}${a.running ? '' : ' (NOT RUNNING)'}${versions} (agents use ${a.agentUrl}); controller ${a.controllerRunning ? 'running' : 'NOT RUNNING'}\n` +
      `kubectl:    export KUBECONFIG=${a.kubeconfig}; kubectl get vxn,vxip -A   (admin; the agents and the controller use their ServiceAccounts)\n`
    : '';
  return `Lab ${j.lab} (source ${j.source})\n\n${nodes}\n\n${vms}\n${ext}${api}`;
}

function guestText(g: GuestNicStatus | undefined): string {
  if (!g) return '?';
  if (g.addressing === 'static') return `${g.ip ?? 'none'} (static)`;
  return g.ip ? `${g.ip} (dhcp${g.lease ? ` from ${g.lease.server}` : ''})` : 'none (no DHCP lease)';
}
