/**
 * events.ts: pure. The records the programs send to vxm_events (vxm_abi.h struct vxm_event, stats.h
 * vxm_emit) decoded into typed events, said in words with the names the node knows (ports and their
 * bindings, networks, policy groups, VTEPs), and repeats folded into one line with a count, the way an
 * operator reads them: "a1 → 10.10.0.13 tcp/22 dropped: … ×37 in 10 s". No I/O: the caller hands in the names.
 */
import { EV_RATE, HOOKS, MISSES, REASONS, VERDICTS, decode, hostIpString, ipString, macString, type Miss, type Reason, type Verdict } from './abi.js';
import { formatPortBinding, type PortBinding } from '../port-binding.js';
import { BpfError } from '../../errors.js';

export const EVENT_SIZE = 80;

export interface MonitorEvent {
  /** bpf_ktime_get_ns (CLOCK_MONOTONIC) of the verdict. */
  timeNs: bigint;
  hook: string;
  ifindex: number;
  /** The VNI the frame was counted under (0: unknown here; its own VNI is then `detail`). */
  vni: number;
  verdict: Verdict;
  drop: boolean;
  reason?: Reason;
  miss: Miss;
  detail: number;
  /** Policy denials: the group, and whether it was its ingress or egress side. */
  group?: number;
  direction?: 'ingress' | 'egress';
  outerSrc?: string;
  outerDst?: string;
  srcMac: string;
  dstMac: string;
  ethertype: number;
  /** IPv4 (ARP: sender/target IPs); absent when the frame has none. */
  saddr?: string;
  daddr?: string;
  proto?: string;
  sport?: number;
  dport?: number;
  /** ICMP type/code, ARP op. */
  icmp?: { type: number; code: number };
  arpOp?: number;
  len: number;
}

const PROTOS: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 132: 'sctp' };
const DROPS = new Set<Verdict>(['dropped-unknown-vtep', 'dropped-spoof', 'dropped-malformed', 'dropped-policy', 'dropped-broadcast-rate', 'dropped-unbound', 'dropped-ipv6']);
const ETH_IP = 0x0800;
const ETH_ARP = 0x0806;

interface RawEvent {
  time_ns: bigint | number; hook: number; ifindex: number; vni: number; verdict: number; reason: number; miss: number;
  detail: number; group: number; outer_src: number; outer_dst: number; dst_mac: number[]; src_mac: number[];
  ethertype: number[]; direction: number; l4_proto: number; saddr: number[]; daddr: number[]; sport: number[]; dport: number[]; len: number;
}

/** One vxm_events record -> an event. Throws BpfError on a record of another size or unknown codes (another ABI). */
export function decodeEvent(buf: Buffer): MonitorEvent {
  if (buf.length !== EVENT_SIZE) throw new BpfError('vxm_events', 22, `record of ${buf.length} bytes, this build's are ${EVENT_SIZE}`);
  const r = decode<RawEvent>('vxm_event', buf);
  const verdict = VERDICTS[r.verdict];
  if (!verdict) throw new BpfError('vxm_events', 22, `unknown verdict ${r.verdict}`);
  const reason = r.reason ? REASONS[r.reason] : undefined;
  if (reason === undefined && r.reason) throw new BpfError('vxm_events', 22, `unknown reason ${r.reason}`);
  const ethertype = (r.ethertype[0]! << 8) | r.ethertype[1]!;
  const e: MonitorEvent = {
    timeNs: BigInt(r.time_ns), hook: HOOKS[r.hook] || `hook ${r.hook}`, ifindex: r.ifindex, vni: r.vni, verdict, drop: DROPS.has(verdict),
    ...(reason ? { reason } : {}), miss: MISSES[r.miss] ?? 'none', detail: r.detail,
    srcMac: macString(r.src_mac), dstMac: macString(r.dst_mac), ethertype, len: r.len,
  };
  if (verdict === 'dropped-policy' && r.group) {
    e.group = r.group;
    e.direction = r.direction ? 'egress' : 'ingress';
  }
  if (r.outer_src) e.outerSrc = hostIpString(r.outer_src);
  if (r.outer_dst) e.outerDst = hostIpString(r.outer_dst);
  const port = (b: number[]) => (b[0]! << 8) | b[1]!;
  if (ethertype === ETH_IP || ethertype === ETH_ARP) {
    e.saddr = ipString(r.saddr);
    e.daddr = ipString(r.daddr);
  }
  if (ethertype === ETH_ARP) e.arpOp = port(r.sport);
  if (ethertype === ETH_IP) {
    e.proto = PROTOS[r.l4_proto] ?? `proto ${r.l4_proto}`;
    if (r.l4_proto === 1) e.icmp = { type: r.sport[0]!, code: r.sport[1]! };
    else if (r.l4_proto in PROTOS) {
      e.sport = port(r.sport);
      e.dport = port(r.dport);
    }
  }
  return e;
}

/** What the node knows to name things; every lookup may come back empty (then numbers are shown). */
export interface EventNames {
  /** A device of the node by ifindex: its name, and for a VM port its binding (alias) when valid. */
  port(ifindex: number): { name: string; binding?: PortBinding; alias?: string } | undefined;
  /** "<ns>/<name>" of the VxlanNetwork with this VNI, and its cluster network. */
  network(vni: number): { name: string; clusterNetwork?: string } | undefined;
  /** The policies of a group (vxm_pol_groups: "<ns>/<name>,…"). */
  group(id: number): string | undefined;
  /** The VM ("<ns>/<name>") holding this IP in the network. */
  vmOfIp(vni: number, ip: string): string | undefined;
  /** The node whose VTEP this is. */
  nodeOfVtep(ip: string): string | undefined;
}

export const NO_NAMES: EventNames = { port: () => undefined, network: () => undefined, group: () => undefined, vmOfIp: () => undefined, nodeOfVtep: () => undefined };

const portText = (n: EventNames, ifindex: number) => {
  const p = n.port(ifindex);
  if (!p) return `#${ifindex}`;
  return p.binding ? `${p.name} (${formatPortBinding(p.binding).slice('vxmesh/'.length)})` : p.name;
};
const netText = (n: EventNames, vni: number) => {
  const net = n.network(vni);
  return net ? `${net.name} (VNI ${vni})` : `VNI ${vni}`;
};
const vtepText = (n: EventNames, ip: string) => {
  const node = n.nodeOfVtep(ip);
  return node ? `${ip} (${node})` : ip;
};
/** "tcp/22", "udp/5001", "icmp echo", "arp who-has", "ethertype 0x86dd". */
export function flowText(e: MonitorEvent): string {
  if (e.ethertype === ETH_ARP) return e.arpOp === 1 ? 'arp who-has' : e.arpOp === 2 ? 'arp reply' : `arp op ${e.arpOp}`;
  if (e.ethertype !== ETH_IP) return `ethertype 0x${e.ethertype.toString(16).padStart(4, '0')}`;
  if (e.icmp) return e.icmp.type === 8 ? 'icmp echo' : e.icmp.type === 0 ? 'icmp echo-reply' : `icmp type ${e.icmp.type}`;
  return e.dport !== undefined ? `${e.proto}/${e.dport}` : (e.proto ?? 'ip');
}

/** The reason in words: what was dropped and exactly which check or lookup refused it. */
export function reasonText(e: MonitorEvent, n: EventNames = NO_NAMES): string {
  if (!e.drop) return forwardText(e, n);
  const port = n.port(e.ifindex);
  const bound = port?.binding ? `port ${port.name} is bound to ${port.binding.vm} ${port.binding.iface}` : `port ${port?.name ?? `#${e.ifindex}`}`;
  const policy = () => {
    const g = e.group !== undefined ? `policy group ${e.group}${n.group(e.group) ? ` (${n.group(e.group)})` : ''}` : 'a policy';
    const side = e.direction === 'egress' ? `egress of ${e.saddr ?? e.srcMac}` : `ingress of ${e.daddr ?? e.dstMac}`;
    if (e.miss === 'no-rule') return `${g}, ${side}, has no rule for peer ${e.direction === 'egress' ? e.daddr : e.saddr}`;
    if (e.miss === 'no-port') return `${g}, ${side}, has no rule allowing ${flowText(e)}`;
    if (e.miss === 'not-ipv4') return `${g}, ${side}, admits IPv4 only (${flowText(e)}, or a truncated IPv4 header)`;
    return g;
  };
  const text: Record<Reason, () => string> = {
    'unbound': () => `port ${port?.name ?? `#${e.ifindex}`} has no valid binding to a VM NIC of this node (alias ${port?.alias ? `"${port.alias}"` : 'none'})`,
    'spoof-mac': () => e.miss === 'no-endpoint' ? `source MAC ${e.srcMac} is no VM NIC of ${netText(n, e.vni)} (${bound})`
      : e.miss === 'other-port' ? `source MAC ${e.srcMac} is not the VM's (${bound}; the MAC's NIC is ${e.detail ? `on ${portText(n, e.detail)}` : 'on no bound port'})`
        : e.miss === 'not-local' ? `source MAC ${e.srcMac} is a VM NIC that does not run on this node (${bound})`
          : e.miss === 'arp-sender' ? `ARP sender MAC is not the frame's source ${e.srcMac} (${bound})`
            : `source MAC ${e.srcMac} (${bound})`,
    'spoof-ip': () => e.miss === 'unspecified' ? `source 0.0.0.0 outside a DHCP client message or an ARP probe (${bound})`
      : e.miss === 'other-mac' ? `source IP ${e.saddr} is not the VM's${n.vmOfIp(e.vni, e.saddr ?? '') ? `, it is ${n.vmOfIp(e.vni, e.saddr ?? '')}'s` : ''} (${bound})`
        : `source IP ${e.saddr} is no address of ${netText(n, e.vni)} (${bound})`,
    'unknown-vtep': () => {
      const net = n.network(e.vni);
      return `VTEP ${vtepText(n, e.outerSrc ?? '?')} is not a member of cluster network ${net?.clusterNetwork ?? `of ${netText(n, e.vni)}`}`;
    },
    'unknown-vni': () => `VNI ${e.detail} is no network of this node (from VTEP ${vtepText(n, e.outerSrc ?? '?')})`,
    'tunnel-key': () => 'a frame on vxe0 without tunnel metadata',
    'malformed': () => 'a truncated or malformed frame (Ethernet, ARP or IPv4 header)',
    'encap-broken': () => 'encapsulation resized the frame but could not write its outer headers',
    'vlan': () => e.miss === 'vlan-stripped' ? 'VLAN-tagged (the kernel moved the tag out of band before TC); the overlay carries untagged frames only'
      : `VLAN-tagged (in-band ${flowText(e)}); the overlay carries untagged frames only`,
    'ipv6': () => 'IPv6, which vxmesh does not carry (IPv4 and ARP only)',
    'policy': policy,
    'broadcast-unicast': () => `unicast IPv4 ${e.daddr} inside an L2 broadcast/multicast frame (it would skip the receiver's ingress policy)`,
    'dhcp': () => e.hook === 'vxm_from_tunnel' ? 'DHCP through the tunnel (a VM\'s DHCP is answered on its own node)' : 'DHCP a VM may not send (a server message, or a client message not for this network\'s server or not its own)',
    'broadcast-rate': () => `broadcast/multicast over the VNI's replication budget: not replicated to the peers (delivered on this node)`,
    'native': () => 'the native encapsulation could not take it',
  };
  return `dropped: ${e.reason ? text[e.reason]() : e.verdict}`;
}

function forwardText(e: MonitorEvent, n: EventNames): string {
  switch (e.verdict) {
    case 'forwarded-tunnel': return `forwarded through the tunnel to VTEP ${vtepText(n, e.outerDst ?? '?')}`;
    case 'forwarded-local': return e.outerSrc ? `forwarded from VTEP ${vtepText(n, e.outerSrc)} to a local VM` : 'forwarded to a local VM';
    case 'arp-answered': return 'ARP answered in place';
    case 'flooded': return 'replicated to the VNI\'s peers';
    case 'passed-to-kernel': return 'passed to the kernel bridge';
    default: return e.verdict;
  }
}

const ipOrMac = (ip: string | undefined, mac: string) => (ip && ip !== '0.0.0.0' ? ip : mac);

/** The sender and receiver as names where known: "default/a1 → 10.10.0.13". */
export function endpointsText(e: MonitorEvent, n: EventNames): string {
  const who = (ip: string | undefined, mac: string) => (ip && n.vmOfIp(e.vni, ip)) || ipOrMac(ip, mac);
  return `${who(e.saddr, e.srcMac)} → ${who(e.daddr, e.dstMac)}`;
}

/**
 * The wall-clock time of an event: `clockOffsetNs` is the wall clock minus CLOCK_MONOTONIC (what
 * bpf_ktime_get_ns counts) when the reader started (monotonicToWallNs). Without it, monotonic seconds.
 */
export function eventTime(e: MonitorEvent, clockOffsetNs?: bigint): string {
  if (clockOffsetNs === undefined) return (Number(e.timeNs / 1_000_000n) / 1000).toFixed(3);
  return new Date(Number((e.timeNs + clockOffsetNs) / 1_000_000n)).toISOString().slice(11, 23);
}

/** The wall clock minus CLOCK_MONOTONIC now (Node's hrtime is CLOCK_MONOTONIC on Linux, as bpf_ktime_get_ns). */
export function monotonicToWallNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
}

/** One line per event: time (UTC with clockOffsetNs, else monotonic seconds), hook, port, network, sender → receiver, flow, the reason. */
export function formatEvent(e: MonitorEvent, n: EventNames = NO_NAMES, clockOffsetNs?: bigint): string {
  const t = eventTime(e, clockOffsetNs);
  return `${t} ${e.hook} ${portText(n, e.ifindex)} ${netText(n, e.vni)} ${endpointsText(e, n)} ${flowText(e)} ${reasonText(e, n)}`;
}

/** What makes two events "the same" for folding: where, what, why, between whom, on which port. */
export function foldKey(e: MonitorEvent): string {
  return [e.hook, e.ifindex, e.vni, e.verdict, e.reason ?? '', e.miss, e.group ?? '', e.outerSrc ?? '', e.srcMac, e.saddr ?? '', e.daddr ?? '', flowText(e)].join('|');
}

export interface Folded { first: MonitorEvent; count: number; firstMs: number; lastMs: number }

/**
 * Folds repeats: the first event of a key is shown at once (add returns true); further ones within the
 * window are counted, and flush() returns, per key that had repeats, one summary (×count in the window),
 * then forgets the window. Keys are bounded (a flood of distinct keys is shown, not hoarded).
 */
export class EventFolder {
  private readonly open = new Map<string, Folded>();

  constructor(private readonly maxKeys = 10_000) {}

  /** true: show this event now (a new key); false: counted into its key's fold. */
  add(e: MonitorEvent, nowMs: number): boolean {
    const k = foldKey(e);
    const f = this.open.get(k);
    if (f) {
      f.count += 1;
      f.lastMs = nowMs;
      return false;
    }
    if (this.open.size >= this.maxKeys) return true;
    this.open.set(k, { first: e, count: 0, firstMs: nowMs, lastMs: nowMs });
    return true;
  }

  /** The folds with repeats since the last flush (count = repeats after the first shown); the window restarts. */
  flush(): Folded[] {
    const out = [...this.open.values()].filter((f) => f.count > 0);
    this.open.clear();
    return out;
  }
}

/** "… ×37 in 10 s": a fold's summary line. */
export function formatFolded(f: Folded, n: EventNames, windowMs: number): string {
  const e = f.first;
  return `${e.hook} ${portText(n, e.ifindex)} ${netText(n, e.vni)} ${endpointsText(e, n)} ${flowText(e)} ${reasonText(e, n)} ×${f.count} more in ${Math.round(windowMs / 1000)} s`;
}

/** The event as JSON (bigint time as a number of nanoseconds in a string-safe form). */
export function eventJson(e: MonitorEvent, n: EventNames = NO_NAMES, clockOffsetNs?: bigint): Record<string, unknown> {
  const port = n.port(e.ifindex);
  return {
    ...e, timeNs: e.timeNs.toString(), ...(clockOffsetNs !== undefined ? { time: new Date(Number((e.timeNs + clockOffsetNs) / 1_000_000n)).toISOString() } : {}), port: port?.name, vm: port?.binding?.vm, network: n.network(e.vni)?.name,
    policies: e.group !== undefined ? n.group(e.group) : undefined, text: reasonText(e, n),
  };
}

/** The budget the programs enforce, for the CLI's "lost" lines. */
export const EVENT_BUDGET = `${EV_RATE} events/s per CPU`;
