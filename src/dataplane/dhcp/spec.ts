/**
 * What DHCP server each network should have on this node. Pure.
 *
 * dnsmasq (Debian dnsmasq-base) runs inside the network's router namespace `vxmr-<node>-<vni>`, bound to
 * gw0 only, with DNS off (`--port=0`) and a `static` range: it answers only the MACs listed in its hosts
 * file — the VMs of this network that run on this node — with their persistent allocation, and ignores
 * every other MAC (`--dhcp-ignore=tag:!known`). The server identifier is gw0's address, i.e. the gateway,
 * the same on every node, so a unicast renewal is answered wherever the VM runs. Why dnsmasq and not a
 * responder in BPF: DHCP is a slow-path protocol (a few packets per VM per lease) with many options and
 * corner cases (renew/rebind/INFORM/DECLINE, option overload); a well-kept server in the router namespace
 * works the same in both dataplane modes, and the router namespace already isolates tenants with
 * overlapping CIDRs.
 */
import path from 'node:path';
import type { NodeIntent } from '../../intent/types.js';
import { names } from '../names.js';
import { routedNetworks } from '../gateway/networks.js';
import { intToIp, parseCidr } from '../../util/ipv4.js';

/** Default root of the per-server directories (`<root>/<node>-<vni>/`: hosts, leases, pid, log). */
export const DHCP_RUN_DIR = process.env.VXMESH_DHCP_DIR ?? '/run/vxmesh-dhcp';

export interface DhcpBinding {
  mac: string;
  ip: string;
}

export interface DhcpServerSpec {
  vni: number;
  /** "<namespace>/<name>" of the VxlanNetwork. */
  network: string;
  /** Router namespace the server runs in. */
  ns: string;
  dir: string;
  /** The whole dnsmasq command line (argv[0] = "dnsmasq"); a running server with another one is restarted. */
  argv: string[];
  /** MAC -> IP of this node's VMs of the network, sorted by IP. */
  bindings: DhcpBinding[];
  /** Content of the hosts file (`--dhcp-hostsfile`). */
  hosts: string;
}

export const serverDirName = (node: string, vni: number) => `${node}-${vni}`;

export const dhcpFiles = (dir: string) => ({
  hosts: path.join(dir, 'hosts'),
  leases: path.join(dir, 'leases'),
  pid: path.join(dir, 'pid'),
  log: path.join(dir, 'dnsmasq.log'),
});

export function netmask(prefixLen: number): string {
  return intToIp(prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0);
}

export function hostsFile(bindings: DhcpBinding[]): string {
  return bindings.map((b) => `${b.mac},${b.ip}\n`).join('');
}

/** One server per routed network (a VM of it here or arriving: gateway/networks.ts) with DHCP on. */
export function desiredServers(intent: NodeIntent, runDir = DHCP_RUN_DIR): DhcpServerSpec[] {
  const out: DhcpServerSpec[] = [];
  for (const n of routedNetworks(intent)) {
    if (!n.dhcp) continue;
    const dir = path.join(runDir, serverDirName(intent.node, n.vni));
    const f = dhcpFiles(dir);
    const bindings = n.endpoints.filter((e) => e.local).map((e) => ({ mac: e.mac.toLowerCase(), ip: e.ip }));
    const c = parseCidr(n.cidr);
    const argv = [
      'dnsmasq',
      '--conf-file=/dev/null',
      '--no-hosts',
      '--no-resolv',
      '--port=0',
      `--interface=${names.routerInner}`,
      '--bind-interfaces',
      '--except-interface=lo',
      `--dhcp-range=${intToIp(c.network)},static,${netmask(c.prefixLen)},${n.dhcp.leaseTime}`,
      '--dhcp-authoritative',
      '--dhcp-ignore=tag:!known',
      `--dhcp-hostsfile=${f.hosts}`,
      `--dhcp-leasefile=${f.leases}`,
      `--pid-file=${f.pid}`,
      `--log-facility=${f.log}`,
      `--dhcp-option=option:router,${n.gateway}`,
      `--dhcp-option=option:mtu,${n.mtu}`,
      ...(n.dhcp.dnsServers.length ? [`--dhcp-option=option:dns-server,${n.dhcp.dnsServers.join(',')}`] : []),
      ...(n.dhcp.searchDomains.length
        ? [`--dhcp-option=option:domain-name,${n.dhcp.searchDomains[0]}`, `--dhcp-option=option:domain-search,${n.dhcp.searchDomains.join(',')}`]
        : []),
    ];
    out.push({ vni: n.vni, network: n.key, ns: names.routerNetns(intent.node, n.vni), dir, argv, bindings, hosts: hostsFile(bindings) });
  }
  return out;
}
