/**
 * The whole kernel-mode plan for one node: bridges and gateway (shared with bpf mode), vxlan devices,
 * FDB/neighbours, VTEP filter. Pure; a network whose plan cannot be computed is reported, the others go on.
 */
import type { NodeIntent } from '../../intent/types.js';
import type { GatewayObserved } from '../gateway/plan.js';
import { planGateways, routerObserveErrors } from '../gateway/plan.js';
import { planBridges } from '../gateway/bridges.js';
import { findTable, planTable } from '../netlink/nft.js';
import { Phase, orderChanges, type Change } from '../netlink/change.js';
import { planVxlans } from './vxlan.js';
import { planFdb } from './fdb.js';
import { vtepFilterTable, VTEP_TABLE } from './vtep-filter.js';
import { POLICY_TABLE } from './policy.js';
import { planPolicyTable } from './policy-plan.js';
import { floodLimitTable, FLOOD_TABLE } from './flood-limit.js';

export interface KernelPlan {
  changes: Change[];
  errors: Array<{ network?: string; vni?: number; message: string }>;
}

export function planKernel(obs: GatewayObserved, intent: NodeIntent): KernelPlan {
  const errors: KernelPlan['errors'] = [...routerObserveErrors(obs, intent)];
  const changes: Change[] = [];
  const filter = planTable(findTable(obs.node.tables, 'inet', VTEP_TABLE), vtepFilterTable(intent));
  changes.push(...filter.map((c) => ({ ...c, phase: Phase.filter })));
  changes.push(...planPolicyTable(findTable(obs.node.tables, 'bridge', POLICY_TABLE), intent, obs.node.links, errors));
  changes.push(...planTable(findTable(obs.node.tables, 'bridge', FLOOD_TABLE), floodLimitTable(intent)));
  changes.push(...planBridges(obs.node.links, intent));
  try {
    changes.push(...planGateways(obs, intent));
  } catch (err) {
    errors.push({ message: `gateway plan failed: ${(err as Error).message}` });
  }
  const vx = planVxlans(obs.node.links, intent);
  for (const c of vx.changes) changes.push(c);
  for (const cn of intent.clusterNetworks) {
    for (const n of cn.networks) {
      try {
        const fresh = vx.fresh.has(n.vni);
        // A loop, not push(...spread): at 100k endpoints the spread overflows the call stack.
        for (const c of planFdb(cn, n, fresh ? [] : obs.node.fdb, fresh ? [] : obs.node.neigh)) changes.push(c);
      } catch (err) {
        errors.push({ network: n.key, vni: n.vni, message: (err as Error).message });
      }
    }
  }
  return { changes: orderChanges(changes), errors };
}
