/** Reads the node namespace and this node's router namespaces (`vxmr-<node>-<vni>`). */
import { listLinks } from '../netlink/link.js';
import { listRoutes } from '../netlink/route.js';
import { listOwnedTables } from '../netlink/nft.js';
import { readSysctl, IP_FORWARD } from '../netlink/sysctl.js';
import { listNetns } from '../netlink/netns.js';
import { observeNode, type NodeObserved } from '../netlink/observe.js';
import type { GatewayObserved, RouterObserved } from './plan.js';

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** This node's router namespaces, by VNI. */
export async function listRouterNamespaces(node: string): Promise<Array<{ ns: string; vni: number }>> {
  const re = new RegExp(`^vxmr-${esc(node)}-(\\d+)$`);
  return (await listNetns()).flatMap((ns) => {
    const m = re.exec(ns);
    return m ? [{ ns, vni: Number(m[1]) }] : [];
  });
}

export async function observeRouter(ns: string, vni: number): Promise<RouterObserved> {
  const [links, routes, ipForward, tables] = await Promise.all([
    listLinks({ routerNs: ns }),
    listRoutes({ routerNs: ns }),
    readSysctl(IP_FORWARD, { netns: ns }),
    listOwnedTables({ netns: ns }),
  ]);
  return { ns, vni, links, routes, ipForward, tables };
}

/** Observes the routers; `node` may be passed when the caller already read the node namespace. */
export async function observeGateways(opts: { node: string; netns?: string }, node?: NodeObserved): Promise<GatewayObserved> {
  const found = await listRouterNamespaces(opts.node);
  const routers: RouterObserved[] = [];
  // A few at a time: each costs four short processes.
  for (let i = 0; i < found.length; i += 4) {
    // A router that cannot be read is an error of this pass for its network alone (plan.ts
    // routerObserveErrors): never read as empty, so nothing of it is deleted or recreated.
    const batch = found.slice(i, i + 4).map((r) => observeRouter(r.ns, r.vni).catch((err: unknown): RouterObserved => ({
      ns: r.ns, vni: r.vni, links: [], routes: [], tables: [], error: (err as Error).message ?? String(err),
    })));
    routers.push(...(await Promise.all(batch)));
  }
  return { node: node ?? (await observeNode({ netns: opts.netns })), routers };
}
