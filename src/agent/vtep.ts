/**
 * This node's VTEP address per cluster network: VxlanConfig spec.vtep.addressFrom `uplink` = the first
 * global IPv4 of spec.uplink.nics[0] in the agent's network namespace; `static` = spec.vtep.addresses[node].
 */
import { runJson } from '../util/exec.js';
import type { Snapshot, VxlanConfig } from '../model/schema.js';

/** True when the config's nodeSelector matches the node's labels (an empty selector matches every node). */
export function selectsNode(cfg: VxlanConfig, node: string, snapshot: Snapshot): boolean {
  const want = cfg.spec.nodeSelector.matchLabels ?? {};
  if (Object.keys(want).length === 0) return true;
  const labels = snapshot.nodes.find((n) => n.metadata.name === node)?.metadata.labels ?? {};
  return Object.entries(want).every(([k, v]) => labels[k] === v);
}

interface IpAddr {
  ifname: string;
  addr_info?: Array<{ family: string; local: string; scope: string }>;
}

export async function firstGlobalIPv4(dev: string, netns?: string): Promise<string | undefined> {
  try {
    const links = await runJson<IpAddr[]>(['ip', '-j', '-4', 'addr', 'show', 'dev', dev], { netns, allowFailure: true });
    for (const l of links) for (const a of l.addr_info ?? []) if (a.family === 'inet' && a.scope === 'global') return a.local;
  } catch {
    /* device missing */
  }
  return undefined;
}

export interface VtepResult {
  vteps: Record<string, string>;
  /** Cluster networks selecting this node for which no address was found, with why. */
  missing: Array<{ clusterNetwork: string; reason: string }>;
}

export async function localVteps(snapshot: Snapshot, node: string, netns?: string): Promise<VtepResult> {
  const vteps: Record<string, string> = {};
  const missing: VtepResult['missing'] = [];
  for (const cfg of snapshot.vxlanConfigs) {
    const cn = cfg.spec.clusterNetwork;
    if (!selectsNode(cfg, node, snapshot)) continue;
    if (cfg.spec.vtep.addressFrom === 'static') {
      const ip = cfg.spec.vtep.addresses[node];
      if (ip) vteps[cn] = ip;
      else missing.push({ clusterNetwork: cn, reason: `VxlanConfig ${cfg.metadata.name}: spec.vtep.addresses has no entry for node ${node}` });
      continue;
    }
    const dev = cfg.spec.uplink.nics[0]!;
    const ip = await firstGlobalIPv4(dev, netns);
    if (ip) vteps[cn] = ip;
    else missing.push({ clusterNetwork: cn, reason: `uplink ${dev} has no global IPv4 address` });
  }
  return { vteps, missing };
}
