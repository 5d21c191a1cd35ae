/**
 * `lab status`: nodes (underlay IP, mode, agent ready) and VMs (node, interfaces: the published allocation
 * and the address the guest actually holds, with its DHCP lease), as a table or JSON.
 */
import { agentRunning, readStatuses } from './agents.js';
import { guestAddress, readLease, type GuestLease } from './dhcp-client.js';
import type { VxlanStatus } from '../model/schema.js';
import { apiRunning, controllerRunning } from './kube.js';
import { labPaths, type LabState } from './state.js';
import { table } from './table.js';

export interface LabStatusJson {
  lab: string;
  /** Where the agents read the cluster from; with kubernetes, the lab's API server and controller. */
  source: 'file' | 'kubernetes';
  apiserver?: { url: string; agentUrl: string; kubeconfig: string; running: boolean; controllerRunning: boolean };
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

export async function labStatus(s: LabState): Promise<LabStatusJson> {
  const st = await readStatuses(s).catch(() => new Map<string, VxlanStatus>());
  return {
    lab: s.lab,
    source: s.kube ? 'kubernetes' : 'file',
    ...(s.kube ? { apiserver: { url: s.kube.url, agentUrl: s.kube.agentUrl, kubeconfig: labPaths(s.lab).kubeconfig, running: apiRunning(s), controllerRunning: controllerRunning(s) } } : {}),
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
  const api = j.apiserver
    ? `\nAPI server: ${j.apiserver.url}${j.apiserver.running ? '' : ' (NOT RUNNING)'} (agents use ${j.apiserver.agentUrl}); controller ${j.apiserver.controllerRunning ? 'running' : 'NOT RUNNING'}; kubeconfig ${j.apiserver.kubeconfig}\n`
    : '';
  return `Lab ${j.lab} (source ${j.source})\n\n${nodes}\n\n${vms}\n${ext}${api}`;
}

function guestText(g: GuestNicStatus | undefined): string {
  if (!g) return '?';
  if (g.addressing === 'static') return `${g.ip ?? 'none'} (static)`;
  return g.ip ? `${g.ip} (dhcp${g.lease ? ` from ${g.lease.server}` : ''})` : 'none (no DHCP lease)';
}
