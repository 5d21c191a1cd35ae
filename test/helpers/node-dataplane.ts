/**
 * Everything vxmesh owns on a node that traffic depends on, as comparable text: tests take it before and
 * after something that must change nothing (a fault, an agent restart) and compare.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { run } from '../../src/util/exec.js';

const MAPS = ['vxm_ports', 'vxm_endpoints', 'vxm_arp', 'vxm_networks', 'vxm_vteps', 'vxm_flood'];

export interface NodeDataplaneOptions {
  /** The node's name: its router namespaces are `vxmr-<node>-<vni>`. */
  node: string;
  /** bpf mode: the pin directory (`<bpffs>/vxmesh`); its maps' contents are compared. */
  pinDir?: string;
  /**
   * Also what only reprogramming changes: nft rules with their handles (counters left out), permanent
   * neighbour entries, the TC programs attached to vxmesh's devices (ids) and the pinned maps (ids).
   */
  programs?: boolean;
}

export async function nodeDataplane(netns: string, o: NodeDataplaneOptions): Promise<string> {
  const sh = async (argv: string[]) => (await run(argv, { netns, allowFailure: true })).stdout;
  const links = JSON.parse(await sh(['ip', '-j', 'link', 'show'])) as Array<{ ifindex: number; ifname: string; master?: string }>;
  const fdb = (await sh(['bridge', 'fdb', 'show'])).split('\n').filter((l) => /permanent|static/.test(l)).sort();
  const routers = (await run(['ip', 'netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`vxmr-${o.node}-`)).sort();
  const bpf = o.pinDir !== undefined && existsSync(path.join(o.pinDir, 'vxm_config'));
  const maps: string[] = [];
  if (bpf) for (const m of MAPS) maps.push(`${m}: ${(await run(['bpftool', '-j', 'map', 'dump', 'pinned', path.join(o.pinDir!, m)])).stdout}`);
  const out: Record<string, unknown> = { links: links.map((l) => `${l.ifindex}:${l.ifname}@${l.master ?? ''}`).sort(), fdb, routers, maps };
  if (o.programs) {
    out.nft = (await sh(['nft', '-a', 'list', 'ruleset'])).replace(/counter packets \d+ bytes \d+/g, 'counter').replace(/ expires \S+/g, '');
    out.neigh = (await sh(['ip', 'neigh', 'show', 'nud', 'permanent'])).split('\n').filter(Boolean).sort();
    const tc: string[] = [];
    for (const l of links.filter((x) => /^vx/.test(x.ifname))) {
      for (const dir of ['ingress', 'egress']) {
        const f = (await sh(['tc', 'filter', 'show', 'dev', l.ifname, dir])).trim();
        if (f) tc.push(`${l.ifname} ${dir}: ${f}`);
      }
    }
    out.tc = tc.sort();
    const ids: string[] = [];
    if (bpf) {
      for (const m of MAPS) ids.push(`${m}:${(JSON.parse((await run(['bpftool', '-j', 'map', 'show', 'pinned', path.join(o.pinDir!, m)])).stdout) as { id: number }).id}`);
    }
    out.mapIds = ids;
  }
  return JSON.stringify(out, null, 1);
}
