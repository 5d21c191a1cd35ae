/**
 * inspect.ts: what the bpf dataplane holds, read from the pinned maps: endpoints, ARP entries, VTEPs,
 * counters per VNI, and the bpftool command lines showing the same.
 */
import path from 'node:path';
import { EP_ARRIVING, EP_MOVING, PORT_GATEWAY, PORT_UNBOUND, TUNNEL_PATHS, hostIpString, ipString, macString, type Verdict } from './abi.js';
import type { PinnedMaps, StatRow } from './maps.js';
import { ALL_MAPS } from './maps.js';
import { readPolicyRows } from './policy-inspect.js';
import { shareUse, shareUseText, type ShareUse } from './ct-shares.js';
import { policyCounterText, type PolicyCounterRow } from '../kernel/policy-inspect.js';

export interface BpfInspectData {
  pinDir: string;
  ports: Array<{ ifindex: number; name?: string; vni: number; kind: 'vm' | 'gateway' | 'unbound' }>;
  endpoints: Array<{ vni: number; mac: string; ip?: string; localPort?: string; localIfindex?: number; remoteVtep?: string; migration?: string }>;
  arp: Array<{ vni: number; ip: string; mac: string }>;
  vteps: Array<{ clusterId: number; ip: string }>;
  counters: StatRow[];
  /** Policy groups with their verdict counters (vxm_pol_stats). */
  policy: PolicyCounterRow[];
  /** Flow-table use per network (ct-shares.ts). */
  shares?: ShareUse[];
  bpftool: string[];
}

export function inspectData(maps: PinnedMaps, ifname: Map<number, string>): BpfInspectData {
  const arp = maps.entries<{ vni: number; ip: number[] }, { mac: number[] }>('vxm_arp', 'vxm_arp_key', 'vxm_arp_entry')
    .map((e) => ({ vni: e.key.vni, ip: ipString(e.key.ip), mac: macString(e.value.mac) }))
    .sort((a, b) => a.vni - b.vni || a.ip.localeCompare(b.ip, undefined, { numeric: true }));
  const ipOf = new Map(arp.map((a) => [`${a.vni}/${a.mac}`, a.ip]));
  const endpoints = maps.entries<{ vni: number; mac: number[] }, { remote_vtep: number; ifindex: number; flags: number; next_vtep: number }>('vxm_endpoints', 'vxm_endpoint_key', 'vxm_endpoint')
    .map((e) => {
      const mac = macString(e.key.mac);
      const migration = e.value.flags & EP_ARRIVING ? 'arriving' : e.value.flags & EP_MOVING ? `moving to ${hostIpString(e.value.next_vtep)}` : undefined;
      return {
        vni: e.key.vni, mac, ip: ipOf.get(`${e.key.vni}/${mac}`),
        ...(e.value.remote_vtep
          ? { remoteVtep: hostIpString(e.value.remote_vtep) }
          : { localIfindex: e.value.ifindex, localPort: e.value.ifindex ? ifname.get(e.value.ifindex) ?? `#${e.value.ifindex}` : '(no bound port)' }),
        ...(migration ? { migration } : {}),
      };
    })
    .sort((a, b) => a.vni - b.vni || (a.ip ?? '').localeCompare(b.ip ?? '', undefined, { numeric: true }));
  const ports = maps.entries<number, { vni: number; flags: number }>('vxm_ports', 'u32', 'vxm_port')
    .map((e) => ({ ifindex: e.key, name: ifname.get(e.key), vni: e.value.vni, kind: portKind(e.value.flags) }))
    .sort((a, b) => a.vni - b.vni || a.ifindex - b.ifindex);
  const vteps = maps.entries<{ cluster_id: number; ip: number }, number>('vxm_vteps', 'vxm_vtep_key', 'u8')
    .map((e) => ({ clusterId: e.key.cluster_id, ip: hostIpString(e.key.ip) }))
    .sort((a, b) => a.clusterId - b.clusterId || a.ip.localeCompare(b.ip, undefined, { numeric: true }));
  // vxm_events is a ring buffer, nothing to dump: `vxmesh monitor` reads it
  const bpftool = ALL_MAPS.filter((m) => m !== 'vxm_events').map((m) => `bpftool map dump pinned ${path.join(maps.pinDir, m)}`);
  return { pinDir: maps.pinDir, ports, endpoints, arp, vteps, counters: maps.readStats(), policy: readPolicyRows(maps), shares: shareUse(maps.fd('vxm_ct')), bpftool };
}

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (c ?? '').padEnd(w[i]!)).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

export function inspectText(d: BpfInspectData): string {
  const byVni = new Map<number, Partial<Record<Verdict, number>>>();
  for (const c of d.counters) (byVni.get(c.vni) ?? byVni.set(c.vni, {}).get(c.vni)!)[c.verdict] = c.packets;
  const verdicts: Verdict[] = ['forwarded-local', 'forwarded-tunnel', 'arp-answered', 'flooded', 'passed-to-kernel', 'dropped-spoof', 'dropped-unknown-vtep', 'dropped-malformed', 'dropped-policy'];
  return [
    `bpf dataplane (maps pinned under ${d.pinDir})`,
    '',
    'Ports',
    table(['VNI', 'PORT', 'IFINDEX', 'KIND'], d.ports.map((p) => [String(p.vni), p.name ?? '?', String(p.ifindex), p.kind])),
    '',
    'Endpoints',
    table(['VNI', 'MAC', 'IP', 'WHERE', 'MIGRATION'], d.endpoints.map((e) => [String(e.vni), e.mac, e.ip ?? '', e.remoteVtep ? `remote vtep ${e.remoteVtep}` : `local port ${e.localPort}`, e.migration ?? ''])),
    '',
    'ARP answers',
    table(['VNI', 'IP', 'MAC'], d.arp.map((a) => [String(a.vni), a.ip, a.mac])),
    '',
    'Member VTEPs',
    table(['CLUSTER-ID', 'VTEP'], d.vteps.map((v) => [String(v.clusterId), v.ip])),
    '',
    'Counters (packets)',
    table(['VNI', ...verdicts], [...byVni].sort((a, b) => a[0] - b[0]).map(([vni, c]) => [String(vni), ...verdicts.map((v) => String(c[v] ?? 0))])),
    '',
    ...tunnelPathText(byVni),
    ...policyCounterText(d.policy ?? []),
    ...shareUseText(d.shares ?? []),
    '',
    'Same data, raw:',
    ...d.bpftool.map((c) => `  ${c}`),
  ].join('\n');
}

/** Which path the VNI's tunnelled frames took (encap.h, vxm_from_uplink): native in TC, or through vxe0. */
function tunnelPathText(byVni: Map<number, Partial<Record<Verdict, number>>>): string[] {
  const rows = [...byVni].filter(([, c]) => TUNNEL_PATHS.some((v) => (c[v] ?? 0) > 0)).sort((a, b) => a[0] - b[0]);
  if (rows.length === 0) return [];
  const pct = (n: number, f: number) => (n + f > 0 ? `${Math.round((100 * n) / (n + f))}%` : '-');
  return [
    'Tunnel path (packets; native = in TC, fallback = through vxe0)',
    table(['VNI', 'ENCAP-NATIVE', 'ENCAP-FALLBACK', 'NATIVE%', 'DECAP-NATIVE', 'DECAP-FALLBACK', 'NATIVE%'], rows.map(([vni, c]) => {
      const [en, ef, dn, df] = TUNNEL_PATHS.map((v) => c[v] ?? 0) as [number, number, number, number];
      return [String(vni), String(en), String(ef), pct(en, ef), String(dn), String(df), pct(dn, df)];
    })),
    '',
  ];
}

function portKind(flags: number): 'vm' | 'gateway' | 'unbound' {
  return flags & PORT_GATEWAY ? 'gateway' : flags & PORT_UNBOUND ? 'unbound' : 'vm';
}
