/**
 * Links and their addresses, read with one `ip -j -d addr show` (details include vxlan attributes and
 * bridge-port flags). Parsed with zod; only the fields vxmesh decides on are kept.
 */
import { z } from 'zod';
import { runJson } from '../../util/exec.js';

const AddrInfo = z.object({ family: z.string().optional(), local: z.string().optional(), prefixlen: z.number().optional() }).passthrough();
const IpLink = z
  .object({
    ifindex: z.number(),
    ifname: z.string(),
    flags: z.array(z.string()).default([]),
    mtu: z.number().default(0),
    master: z.string().optional(),
    address: z.string().optional(),
    ifalias: z.string().optional(),
    link_netnsid: z.number().optional(),
    link: z.string().nullable().optional(),
    addr_info: z.array(AddrInfo).default([]),
    linkinfo: z
      .object({
        info_kind: z.string().optional(),
        info_data: z.record(z.unknown()).optional(),
        info_slave_kind: z.string().optional(),
        info_slave_data: z.record(z.unknown()).optional(),
      })
      .passthrough()
      .optional(),
  })
  .passthrough();

export interface VxlanAttrs {
  id: number;
  local?: string;
  port: number;
  /** Underlay device name. */
  dev?: string;
  learning: boolean;
  proxy: boolean;
  external: boolean;
}

export interface LinkInfo {
  name: string;
  ifindex: number;
  kind?: string;
  master?: string;
  up: boolean;
  mtu: number;
  mac?: string;
  /** IPv4 addresses in CIDR form. */
  addrs: string[];
  /** IPv6 addresses in CIDR form (vxmesh's own devices should have none: ipv6-silence.ts). */
  ipv6Addrs?: string[];
  vxlan?: VxlanAttrs;
  /** Interface alias (IFLA_IFALIAS): a VM port's out-of-band binding, see port-binding.ts. */
  alias?: string;
  /** Bridge-port learning flag (undefined when not a bridge port). */
  portLearning?: boolean;
}

export function parseLinks(json: unknown): LinkInfo[] {
  const arr = z.array(IpLink).parse(json);
  return arr.map((l) => {
    const kind = l.linkinfo?.info_kind;
    const data = l.linkinfo?.info_data ?? {};
    const slave = l.linkinfo?.info_slave_kind === 'bridge' ? l.linkinfo.info_slave_data ?? {} : undefined;
    const info: LinkInfo = {
      name: l.ifname,
      ifindex: l.ifindex,
      kind,
      master: l.master,
      up: l.flags.includes('UP'),
      mtu: l.mtu,
      mac: l.address,
      ...(l.ifalias ? { alias: l.ifalias } : {}),
      addrs: l.addr_info.filter((a) => a.family === 'inet' && a.local).map((a) => `${a.local}/${a.prefixlen ?? 32}`),
      ipv6Addrs: l.addr_info.filter((a) => a.family === 'inet6' && a.local).map((a) => `${a.local}/${a.prefixlen ?? 128}`),
    };
    if (kind === 'vxlan') {
      info.vxlan = {
        id: Number(data.id ?? 0),
        local: typeof data.local === 'string' ? data.local : undefined,
        port: Number(data.port ?? 0),
        dev: typeof data.link === 'string' ? data.link : undefined,
        learning: data.learning === true,
        proxy: data.proxy === true,
        external: data.external === true,
      };
    }
    if (slave) info.portLearning = slave.learning === true;
    return info;
  });
}

/** All links of a namespace. `routerNs` reads a router namespace by name (`ip -n`), else the node's. */
export async function listLinks(opts: { netns?: string; routerNs?: string }): Promise<LinkInfo[]> {
  const argv = opts.routerNs ? ['ip', '-n', opts.routerNs, '-j', '-d', 'addr', 'show'] : ['ip', '-j', '-d', 'addr', 'show'];
  return parseLinks(await runJson(argv, { netns: opts.routerNs ? undefined : opts.netns }));
}
