/**
 * DHCP for VMs (both modes): every node answers the VMs of each network that run on it, from their
 * persistent allocation, with a dnsmasq in the network's router namespace (see spec.ts), and keeps DHCP
 * off the underlay (filter.ts; bpf mode: vxm_from_vm does not replicate DHCP). Call `reconcileDhcp`
 * after the gateways are applied (the router namespace and gw0 must exist); `cleanupDhcp` on uninstall.
 */
import type { Logger } from 'pino';
import type { NodeIntent } from '../../intent/types.js';
import { applyChanges } from '../netlink/batch.js';
import { describeChange } from '../netlink/change.js';
import { findTable, listOwnedTables, planTable, type ObservedTable } from '../netlink/nft.js';
import { localNetworks } from '../gateway/networks.js';
import { applyDhcp, stopServer } from './apply.js';
import { DHCP_FILTER_TABLE, dhcpFilterTable } from './filter.js';
import { observeServers } from './observe.js';
import { planDhcp } from './plan.js';
import { DHCP_RUN_DIR, desiredServers } from './spec.js';
import { rmSync } from 'node:fs';

export { DHCP_RUN_DIR, desiredServers, dhcpFiles, hostsFile, netmask, serverDirName, type DhcpBinding, type DhcpServerSpec } from './spec.js';
export { planDhcp, type DhcpAction, type ServerObserved } from './plan.js';
export { observeServers, serverPid, parseServerDir } from './observe.js';
export { parseLeases, conflictingLeases, pruneLeases, type Lease } from './leases.js';
export { dhcpFilterTable, DHCP_FILTER_TABLE } from './filter.js';
export { stopServer } from './apply.js';

export interface DhcpOptions {
  node: string;
  /** Node namespace (tests drive a node from the root namespace); servers run in the router namespaces. */
  netns?: string;
  log: Logger;
  /** Default DHCP_RUN_DIR (/run/vxmesh-dhcp, or $VXMESH_DHCP_DIR). */
  runDir?: string;
  /** The node namespace's vxmesh tables when the caller already read them. */
  tables?: ObservedTable[];
}

export interface DhcpResult {
  applied: number;
  errors: Array<{ network?: string; vni?: number; message: string }>;
}

export async function reconcileDhcp(intent: NodeIntent, opts: DhcpOptions): Promise<DhcpResult> {
  const log = opts.log.child({ component: 'dataplane.dhcp' });
  const runDir = opts.runDir ?? DHCP_RUN_DIR;
  const keyOf = new Map(localNetworks(intent).map((n) => [n.vni, n.key] as const));
  const errors: DhcpResult['errors'] = [];
  let applied = 0;

  const tables = opts.tables ?? (await listOwnedTables({ netns: opts.netns }));
  const filter = planTable(findTable(tables, 'bridge', DHCP_FILTER_TABLE), keyOf.size ? dhcpFilterTable() : undefined);
  const fres = await applyChanges(filter, { netns: opts.netns, log });
  applied += fres.applied;
  for (const f of fres.failures) errors.push({ message: `${describeChange(f.change)}: ${f.message}` });

  const actions = planDhcp(intent.node, observeServers(runDir), desiredServers(intent, runDir));
  const failures = await applyDhcp(actions);
  for (const a of actions) {
    const failed = failures.find((f) => f.action === a);
    if (!failed) log.info({ vni: a.vni, network: keyOf.get(a.vni), op: a.op, reason: a.reason }, 'dhcp server changed');
  }
  applied += actions.length - failures.length;
  for (const f of failures) {
    errors.push({ vni: f.action.vni, network: keyOf.get(f.action.vni), message: `dhcp ${f.action.op} (${f.action.reason}): ${f.message}` });
  }
  return { applied, errors };
}

/** Stops this node's servers, removes their directories and the DHCP filter table. */
export async function cleanupDhcp(opts: DhcpOptions): Promise<void> {
  const runDir = opts.runDir ?? DHCP_RUN_DIR;
  for (const s of observeServers(runDir).filter((x) => x.node === opts.node)) {
    await stopServer(s.pid);
    rmSync(s.dir, { recursive: true, force: true });
  }
  const tables = opts.tables ?? (await listOwnedTables({ netns: opts.netns }));
  const res = await applyChanges(planTable(findTable(tables, 'bridge', DHCP_FILTER_TABLE), undefined), { netns: opts.netns, log: opts.log });
  if (res.failures.length) throw new Error(res.failures.map((f) => `${describeChange(f.change)}: ${f.message}`).join('; '));
}
