/** `vxmesh inspect` for kernel mode: what the node holds, per VNI. Pure over an observation. */
import type { GatewayObserved } from '../gateway/plan.js';
import { ZERO_MAC } from '../netlink/fdb.js';
import { vniOf } from '../gateway/networks.js';
import { VTEP_TABLE } from './vtep-filter.js';

export interface KernelInspectData {
  networks: Array<{
    vni: number;
    bridge: boolean;
    vxlan?: { local?: string; port: number; dev?: string; up: boolean };
    ports: string[];
    floodPeers: string[];
    remoteMacs: Array<{ mac: string; vtep?: string }>;
    neighbours: Array<{ ip: string; mac?: string }>;
    router?: { ns: string; gateway: string[]; transit: string[] };
  }>;
  vtepSets: Array<{ name: string; elements: string[] }>;
}

export function inspectData(obs: GatewayObserved): KernelInspectData {
  const vnis = new Set<number>();
  for (const l of obs.node.links) {
    const v = vniOf(l.name, 'vxb') ?? vniOf(l.name, 'vxl');
    if (v !== undefined) vnis.add(v);
  }
  for (const r of obs.routers) vnis.add(r.vni);
  const networks = [...vnis].sort((a, b) => a - b).map((vni) => {
    const vxl = obs.node.links.find((l) => l.name === `vxl${vni}`);
    const fdb = obs.node.fdb.filter((e) => e.dev === `vxl${vni}` && e.self);
    const r = obs.routers.find((x) => x.vni === vni);
    return {
      vni,
      bridge: obs.node.links.some((l) => l.name === `vxb${vni}`),
      vxlan: vxl?.vxlan ? { local: vxl.vxlan.local, port: vxl.vxlan.port, dev: vxl.vxlan.dev, up: vxl.up } : undefined,
      ports: obs.node.links.filter((l) => l.master === `vxb${vni}`).map((l) => l.name).sort(),
      floodPeers: fdb.filter((e) => e.mac === ZERO_MAC && e.dst).map((e) => e.dst!).sort(),
      remoteMacs: fdb.filter((e) => e.mac !== ZERO_MAC).map((e) => ({ mac: e.mac, vtep: e.dst })),
      neighbours: obs.node.neigh.filter((n) => n.dev === `vxl${vni}`).map((n) => ({ ip: n.ip, mac: n.mac })),
      router: r
        ? { ns: r.ns, gateway: r.links.find((l) => l.name === 'gw0')?.addrs ?? [], transit: r.links.find((l) => l.name === 'up0')?.addrs ?? [] }
        : undefined,
    };
  });
  const vt = obs.node.tables.find((t) => t.name === VTEP_TABLE);
  return { networks, vtepSets: vt?.sets.map((s) => ({ name: s.name, elements: s.elements })) ?? [] };
}

export function inspectText(d: KernelInspectData): string {
  const lines: string[] = ['mode: kernel'];
  for (const n of d.networks) {
    lines.push(`vni ${n.vni}: bridge ${n.bridge ? `vxb${n.vni}` : 'missing'}, ports ${n.ports.join(' ') || '-'}`);
    lines.push(n.vxlan ? `  vxl${n.vni}: local ${n.vxlan.local} port ${n.vxlan.port} dev ${n.vxlan.dev} ${n.vxlan.up ? 'up' : 'DOWN'}` : `  vxl${n.vni}: missing`);
    lines.push(`  flood to: ${n.floodPeers.join(' ') || '-'}`);
    for (const m of n.remoteMacs) lines.push(`  fdb ${m.mac} -> ${m.vtep}`);
    for (const x of n.neighbours) lines.push(`  neigh ${x.ip} -> ${x.mac}`);
    if (n.router) lines.push(`  router ${n.router.ns}: gw0 ${n.router.gateway.join(' ')}, up0 ${n.router.transit.join(' ')}`);
  }
  for (const s of d.vtepSets) lines.push(`vtep set ${s.name}: ${s.elements.join(' ') || '(empty)'}`);
  return lines.join('\n');
}
