/**
 * Static FDB and neighbours on `vxl<vni>` (kernel mode). Per peer VTEP that holds the VNI one all-zero
 * entry (flooding: broadcast/unknown go head-end replicated to those peers only, intent/flood.ts); per remote VM its MAC -> its VTEP (`self`)
 * plus the same MAC as `master static` so the bridge forwards it to the vxlan port instead of flooding
 * local VM ports; a permanent neighbour IP -> MAC that the vxlan device (proxy) answers ARP from.
 * Additions and moves first, stale entries after. Pure.
 */
import type { ClusterNetworkIntent, EndpointIntent, NetworkIntent, NodeIntent } from '../../intent/types.js';
import type { FdbEntry } from '../netlink/fdb.js';
import { ZERO_MAC } from '../netlink/fdb.js';
import type { NeighEntry } from '../netlink/neigh.js';
import { Phase, type Change } from '../netlink/change.js';
import { names } from '../names.js';
import { floodVteps } from '../../intent/flood.js';

export function planFdb(cn: ClusterNetworkIntent, n: NetworkIntent, observed: FdbEntry[], neigh: NeighEntry[]): Change[] {
  const dev = names.vxlan(n.vni);
  const vni = n.vni;
  const out: Change[] = [];
  const b = (phase: number, args: string[], reason: string): Change => ({ tool: 'bridge', args, vni, phase, reason });
  const ip = (phase: number, args: string[], reason: string): Change => ({ tool: 'ip', args, vni, phase, reason });
  const mine = observed.filter((e) => e.dev === dev);
  const remote = remoteEndpoints(cn, n);

  const floodHave = new Set(mine.filter((e) => e.self && e.mac === ZERO_MAC && e.dst).map((e) => e.dst!));
  const peers = floodVteps(cn, n);
  for (const p of peers) if (!floodHave.has(p)) out.push(b(Phase.fdb, ['fdb', 'append', ZERO_MAC, 'dev', dev, 'dst', p, 'self', 'permanent'], 'flood entry missing'));

  const selfHave = new Map<string, string[]>();
  for (const e of mine) if (e.self && e.mac !== ZERO_MAC) selfHave.set(e.mac, [...(selfHave.get(e.mac) ?? []), e.dst ?? '']);
  const masterHave = new Set(mine.filter((e) => !e.self && e.state === 'static').map((e) => e.mac));
  const wantMacs = new Set<string>();
  for (const ep of remote) {
    const mac = ep.mac.toLowerCase();
    wantMacs.add(mac);
    const dsts = selfHave.get(mac);
    if (!dsts || dsts.length !== 1 || dsts[0] !== ep.vtep) {
      out.push(b(Phase.fdb, ['fdb', 'replace', mac, 'dev', dev, 'dst', ep.vtep, 'self', 'permanent'], dsts ? `vtep differs: ${dsts.join(',')} -> ${ep.vtep}` : 'remote MAC missing'));
    }
    if (!masterHave.has(mac)) out.push(b(Phase.fdb, ['fdb', 'replace', mac, 'dev', dev, 'master', 'static'], 'remote MAC not pinned to vxlan port'));
  }

  const neighHave = new Map(neigh.filter((e) => e.dev === dev).map((e) => [e.ip, e]));
  const wantIps = new Set<string>();
  for (const ep of remote) {
    wantIps.add(ep.ip);
    const h = neighHave.get(ep.ip);
    if (!h || h.mac !== ep.mac.toLowerCase() || !h.permanent) {
      out.push(ip(Phase.neigh, ['neigh', 'replace', ep.ip, 'lladdr', ep.mac.toLowerCase(), 'dev', dev, 'nud', 'permanent'], h ? 'neighbour differs' : 'neighbour missing'));
    }
  }

  // Stale entries last.
  for (const p of floodHave) if (!peers.includes(p)) out.push(b(Phase.fdbDel, ['fdb', 'del', ZERO_MAC, 'dev', dev, 'dst', p, 'self'], 'peer left'));
  for (const mac of selfHave.keys()) if (!wantMacs.has(mac)) out.push(b(Phase.fdbDel, ['fdb', 'del', mac, 'dev', dev, 'self'], 'remote MAC gone'));
  for (const mac of masterHave) if (!wantMacs.has(mac)) out.push(b(Phase.fdbDel, ['fdb', 'del', mac, 'dev', dev, 'master'], 'remote MAC gone'));
  for (const [addr, h] of neighHave) {
    if (!wantIps.has(addr) && (h.permanent || h.mac)) out.push(ip(Phase.neighDel, ['neigh', 'del', addr, 'dev', dev], 'neighbour gone'));
  }
  return out;
}

/** The endpoints reached through the tunnel: each costs FDB entries and a neighbour on `vxl<vni>`. */
function remoteEndpoints(cn: ClusterNetworkIntent, n: NetworkIntent): EndpointIntent[] {
  return n.endpoints.filter((e) => !e.local && e.vtep !== cn.localVtep);
}

/** How many static entries planFdb keeps once converged: per peer holding the VNI one flood entry, per remote MAC two, per remote IP one neighbour. */
export function staticEntryCounts(intent: NodeIntent): { fdb: number; neigh: number } {
  let fdb = 0;
  let neigh = 0;
  for (const cn of intent.clusterNetworks) {
    for (const n of cn.networks) {
      const remote = remoteEndpoints(cn, n);
      fdb += floodVteps(cn, n).length + 2 * new Set(remote.map((e) => e.mac.toLowerCase())).size;
      neigh += new Set(remote.map((e) => e.ip)).size;
    }
  }
  return { fdb, neigh };
}
