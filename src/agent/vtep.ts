/**
 * This node's VTEP address per cluster network: VxlanConfig spec.vtep.addressFrom `uplink` = the first
 * global IPv4 of the cluster network's uplink device (uplink-plan.ts: Harvester's `<cn>-br`/`<cn>-bo`,
 * the single nic, or the bond vxmesh makes) in the agent's network namespace; `static` =
 * spec.vtep.addresses[node]. A link listing that fails throws (the pass stops before the dataplane).
 */
import type { Logger } from 'pino';
import type { Snapshot, VxlanConfig } from '../model/schema.js';
import { configFor } from '../intent/compute.js';
import { ensureUplinks } from './uplink.js';

/** True when the config's nodeSelector matches the node's labels (an empty selector matches every node). */
export function selectsNode(cfg: VxlanConfig, node: string, snapshot: Snapshot): boolean {
  const want = cfg.spec.nodeSelector.matchLabels ?? {};
  if (Object.keys(want).length === 0) return true;
  const labels = snapshot.nodes.find((n) => n.metadata.name === node)?.metadata.labels ?? {};
  return Object.entries(want).every(([k, v]) => labels[k] === v);
}

export interface VtepResult {
  vteps: Record<string, string>;
  /** Cluster network -> the uplink device (the VTEP's device, the tunnels' underlay device). */
  uplinks: Record<string, string>;
  /** Cluster networks selecting this node for which no (usable) address was found, with why and a condition reason. */
  missing: Array<{ clusterNetwork: string; reason: string; code?: string }>;
}

/** The selected config of each cluster network, one per cluster network (as computeIntent picks it). */
export function selectedConfigs(snapshot: Snapshot, node: string): VxlanConfig[] {
  const cns = [...new Set(snapshot.vxlanConfigs.map((c) => c.spec.clusterNetwork))].sort();
  return cns.flatMap((cn) => {
    const c = configFor(snapshot, cn, node);
    return c && selectsNode(c, node, snapshot) ? [c] : [];
  });
}

export async function localVteps(snapshot: Snapshot, node: string, netns?: string, log?: Logger): Promise<VtepResult> {
  const vteps: Record<string, string> = {};
  const uplinks: Record<string, string> = {};
  const missing: VtepResult['missing'] = [];
  const configs = selectedConfigs(snapshot, node);
  const silent = { warn: () => {}, info: () => {} } as unknown as Logger;
  const up = await ensureUplinks(configs, { netns, log: log ?? silent });
  const { links } = up;
  for (const cfg of configs) {
    const cn = cfg.spec.clusterNetwork;
    const plan = up.plans.find((p) => p.clusterNetwork === cn)!;
    uplinks[cn] = plan.device;
    if (cfg.spec.vtep.addressFrom === 'static') {
      const ip = cfg.spec.vtep.addresses[node];
      if (plan.problem) missing.push({ clusterNetwork: cn, reason: plan.problem.message, code: plan.problem.reason });
      if (ip) vteps[cn] = ip;
      else missing.push({ clusterNetwork: cn, reason: `VxlanConfig ${cfg.metadata.name}: spec.vtep.addresses has no entry for node ${node}` });
      continue;
    }
    if (plan.problem) {
      missing.push({ clusterNetwork: cn, reason: plan.problem.message, code: plan.problem.reason });
      continue;
    }
    const addr = links.find((l) => l.name === plan.device)?.addrs[0];
    if (addr) vteps[cn] = addr.split('/')[0]!;
    else missing.push({ clusterNetwork: cn, reason: `uplink ${plan.device} has no global IPv4 address` });
  }
  return { vteps, uplinks, missing };
}
