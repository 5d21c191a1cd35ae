/**
 * The shared part of both dataplanes: per-VNI bridges and the gateway (router namespaces + NAT).
 * The bpf dataplane calls `reconcileGateways` / `cleanupGateways` unchanged, or composes
 * `planBridges` + `planGateways` with its own plan over one `observeGateways` read.
 */
import type { Logger } from 'pino';
import type { NodeIntent } from '../../intent/types.js';
import { applyChanges, type ApplyResult, type ChangeFailure } from '../netlink/batch.js';
import { Phase, describeChange, type Change } from '../netlink/change.js';
import { names, isOwnedDevice } from '../names.js';
import { observeNode } from '../netlink/observe.js';
import { planBridges } from './bridges.js';
import { planGateways, routerObserveErrors } from './plan.js';
import { observeGateways, listRouterNamespaces } from './observe.js';
import { GATEWAY_TABLE } from './nft-rules.js';
import { cleanupDhcp } from '../dhcp/index.js';

export { planBridges } from './bridges.js';
export { planGateways, observedTransits, routerObserveErrors, type GatewayObserved, type RouterObserved } from './plan.js';
export { observeGateways, observeRouter, listRouterNamespaces } from './observe.js';
export { nodeGatewayTable, routerTable, GATEWAY_TABLE } from './nft-rules.js';
export { TRANSIT_CIDR, transit, transitIndexOf, allocateTransits } from './transit.js';
export { localNetworks, routedNetworks, vniOf, type LocalNetwork } from './networks.js';
export { gatewayGuard, guardSets, guardRules, GUARD_SETS, type GatewayGuard } from './guard.js';

export interface GatewayOptions {
  node: string;
  netns?: string;
  log: Logger;
}

export type NetworkError = { network?: string; vni?: number; message: string };

/** Apply failures as ReconcileReport errors, named by network key. */
export function failuresToErrors(failures: ChangeFailure[], intent: NodeIntent): NetworkError[] {
  const keyOf = new Map(intent.clusterNetworks.flatMap((cn) => cn.networks.map((n) => [n.vni, n.key] as const)));
  return failures.map((f) => {
    const vni = f.change.vni;
    return { vni, network: vni !== undefined ? keyOf.get(vni) : undefined, message: `${describeChange(f.change)}: ${f.message}` };
  });
}

/**
 * Observe, plan (bridges + gateways), apply. `applied` counts applied changes (0 when converged);
 * `errors` has one entry per failed change and per unreadable router namespace, with its network.
 */
export async function reconcileGateways(intent: NodeIntent, opts: GatewayOptions): Promise<ApplyResult & { planned: Change[]; errors: NetworkError[] }> {
  const obs = await observeGateways(opts);
  const planned = [...planBridges(obs.node.links, intent), ...planGateways(obs, intent)];
  const res = await applyChanges(planned, { netns: opts.netns, log: opts.log });
  return { ...res, planned, errors: [...routerObserveErrors(obs, intent), ...failuresToErrors(res.failures, intent)] };
}

/**
 * Removes the gateway side: this node's router namespaces, vxg/vxo legs, the gateway nft table and,
 * with `bridges`, the vxb bridges (VM ports fall out of them: only for an explicit uninstall).
 */
export async function cleanupGateways(opts: GatewayOptions & { bridges?: boolean }): Promise<ApplyResult> {
  const node = await observeNode({ netns: opts.netns });
  // DHCP servers first: deleting a router namespace would not stop the dnsmasq inside it.
  await cleanupDhcp({ node: opts.node, netns: opts.netns, log: opts.log, tables: node.tables });
  const changes: Change[] = [];
  for (const r of await listRouterNamespaces(opts.node)) {
    changes.push({ tool: 'netns', args: ['del', r.ns], phase: Phase.netnsDel });
  }
  for (const l of node.links) {
    if (!isOwnedDevice(l.name)) continue;
    const isLeg = /^vx[go]\d+$/.test(l.name);
    const isBridge = /^vxb\d+$/.test(l.name) && l.kind === 'bridge';
    if (isLeg || (opts.bridges && isBridge)) changes.push({ tool: 'ip', args: ['link', 'del', l.name], phase: Phase.linkDel });
  }
  if (node.tables.some((t) => t.family === 'inet' && t.name === GATEWAY_TABLE)) {
    changes.push({ tool: 'nft', args: [`delete table inet ${names.nftTable}`], phase: Phase.nft });
  }
  const res = await applyChanges(changes, { netns: opts.netns, log: opts.log });
  // A leg already gone is removed: deleting its router namespace took the veth pair with it.
  res.failures = res.failures.filter((f) => !(f.change.tool === 'ip' && f.change.args[0] === 'link' && f.change.args[1] === 'del' && /Cannot find device/.test(f.message)));
  return res;
}
