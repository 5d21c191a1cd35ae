/**
 * Running DHCP servers vs wanted ones -> actions. Pure. A server is reloaded (hosts file rewritten, SIGHUP)
 * when only its bindings change, the common case (a VM arrives or leaves, e.g. a migration); restarted
 * when its command line differs (MTU, DNS, lease time, CIDR), when it runs outside the router namespace
 * of that name (the namespace was recreated) or when a lease blocks a binding; stopped when its network
 * left the intent or turned DHCP off. A server directory whose router namespace is gone (any node:
 * leftovers of a torn-down node) is removed, its server stopped.
 */
import { conflictingLeases, parseLeases } from './leases.js';
import type { DhcpServerSpec } from './spec.js';

export interface ServerObserved {
  node: string;
  vni: number;
  dir: string;
  /** PID of the dnsmasq that owns this directory's pid file, when it runs. */
  pid?: number;
  /** Its command line. */
  cmdline?: string[];
  /** It runs in the namespace that `/run/netns/vxmr-<node>-<vni>` names now. */
  inRouterNs: boolean;
  routerNsExists: boolean;
  hosts?: string;
  leases?: string;
}

export type DhcpAction =
  | { op: 'start'; vni: number; spec: DhcpServerSpec; reason: string }
  | { op: 'restart'; vni: number; spec: DhcpServerSpec; pid: number; reason: string }
  | { op: 'reload'; vni: number; spec: DhcpServerSpec; pid: number; reason: string }
  | { op: 'stop'; vni: number; dir: string; pid?: number; reason: string };

const sameArgv = (a: string[] | undefined, b: string[]) => !!a && a.length === b.length && a.every((x, i) => x === b[i]);

export function planDhcp(node: string, observed: ServerObserved[], desired: DhcpServerSpec[]): DhcpAction[] {
  const out: DhcpAction[] = [];
  const wanted = new Map(desired.map((d) => [d.dir, d]));
  for (const spec of desired) {
    const o = observed.find((x) => x.dir === spec.dir);
    const vni = spec.vni;
    if (!o?.pid) {
      out.push({ op: 'start', vni, spec, reason: 'server not running' });
      continue;
    }
    const pid = o.pid;
    if (!o.inRouterNs) out.push({ op: 'restart', vni, spec, pid, reason: 'server runs outside the router namespace' });
    else if (!sameArgv(o.cmdline, spec.argv)) out.push({ op: 'restart', vni, spec, pid, reason: 'server options differ' });
    else if (conflictingLeases(parseLeases(o.leases ?? ''), spec.bindings).length) out.push({ op: 'restart', vni, spec, pid, reason: 'a lease holds an address bound to another MAC' });
    else if (o.hosts !== spec.hosts) out.push({ op: 'reload', vni, spec, pid, reason: 'bindings differ' });
  }
  for (const o of observed) {
    if (wanted.has(o.dir)) continue;
    if (o.node === node) out.push({ op: 'stop', vni: o.vni, dir: o.dir, pid: o.pid, reason: 'network left the intent or has DHCP off' });
    else if (!o.routerNsExists) out.push({ op: 'stop', vni: o.vni, dir: o.dir, pid: o.pid, reason: 'router namespace gone' });
  }
  return out;
}
