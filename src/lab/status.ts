/** `lab status`: nodes (underlay IP, mode, agent ready) and VMs (node, interfaces), as a table or JSON. */
import { agentRunning, readStatuses } from './agents.js';
import type { LabState } from './state.js';
import { table } from './table.js';

export interface LabStatusJson {
  lab: string;
  nodes: Array<{ name: string; netns: string; underlayIP: string; mode: string | null; agentReady: boolean; message?: string }>;
  vms: Array<{ name: string; namespace: string; node: string; netns: string; interfaces: Array<{ name: string; network: string; mac: string; ip: string }> }>;
  external?: { netns: string; ip: string };
}

export async function labStatus(s: LabState): Promise<LabStatusJson> {
  const st = await readStatuses(s);
  return {
    lab: s.lab,
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
    vms: s.vms.map((v) => ({
      name: v.name,
      namespace: v.namespace,
      node: v.node,
      netns: v.netns,
      interfaces: v.interfaces.map((i) => ({ name: i.name, network: i.network, mac: i.mac, ip: i.ip })),
    })),
    ...(s.external ? { external: { netns: s.external.netns, ip: s.external.ip } } : {}),
  };
}

export function formatStatus(j: LabStatusJson): string {
  const nodes = table(
    ['NODE', 'UNDERLAY IP', 'MODE', 'AGENT READY', 'NAMESPACE'],
    j.nodes.map((n) => [n.name, n.underlayIP, n.mode ?? '?', n.agentReady ? 'yes' : `no${n.message ? ` (${n.message})` : ''}`, n.netns]),
  );
  const vms = table(
    ['VM', 'NAMESPACE', 'NODE', 'NETWORK', 'MAC', 'IP'],
    j.vms.flatMap((v) => v.interfaces.map((i, k) => [k ? '' : v.name, k ? '' : v.namespace, k ? '' : v.node, i.network, i.mac, i.ip])),
  );
  const ext = j.external ? `\nExternal host: ${j.external.ip} (namespace ${j.external.netns}, TCP 8080 echoes the client's source address)\n` : '';
  return `Lab ${j.lab}\n\n${nodes}\n\n${vms}\n${ext}`;
}
