/**
 * abi.ts: the TypeScript mirror of bpf/include/vxm_abi.h. Layouts are koffi structs (so sizes and
 * offsets can be checked against the object's BTF: test/unit/bpf-abi.test.ts) plus encoders between
 * plain values and the byte buffers the map calls take.
 * Byte orders as in the header: VTEP IPs host order, overlay IPs network order, MACs wire bytes.
 */
import koffi from 'koffi';
import { fnv1a } from '../../util/hash.js';
import { codecOf, type Codec } from './codec.js';

export const VXM_MAX_PEERS = 64;
export { BCAST_RATE_PPS, BCAST_BURST } from './abi-constants.js';
/** Flow-table entries per network (vxm_abi.h VXM_CT_SHARE; the inner maps of vxm_ct). */
export const VXM_CT_SHARE = 16384;

export const PORT_VM = 1;
export const PORT_GATEWAY = 2;
// 4: retired (PORT_UNCLAIMED), never reused
export const PORT_UNBOUND = 8;
export const NET_MOVING = 1;
export const EP_LOCAL = 1;
export const EP_REMOTE = 2;
export const EP_ARRIVING = 4;
export const EP_MOVING = 8;

/** enum vxm_verdict, by index. */
export const VERDICTS = [
  'forwarded-local', 'forwarded-tunnel', 'arp-answered', 'dropped-unknown-vtep',
  'dropped-spoof', 'dropped-malformed', 'passed-to-kernel', 'flooded', 'dropped-policy', 'dropped-broadcast-rate',
  'dropped-unbound', 'dropped-ipv6',
  // of forwarded-tunnel: which path encapsulated it (encap.h)
  'encap-native', 'encap-fallback',
  // VxLAN to this node: decapsulated on the uplink (of forwarded-local), or left to vxe0 (vxm_from_uplink)
  'decap-native', 'decap-fallback',
] as const;
export type Verdict = (typeof VERDICTS)[number];
/** The verdicts that say which way a tunnelled frame went: native in TC, or through vxe0. */
export const TUNNEL_PATHS = ['encap-native', 'encap-fallback', 'decap-native', 'decap-fallback'] as const satisfies readonly Verdict[];
export type TunnelPath = (typeof TUNNEL_PATHS)[number];

/** enum vxm_pol_verdict, by index (vxm_pol_stats). */
export const POLICY_VERDICTS = ['allowed', 'denied', 'replies'] as const;
export type PolicyVerdict = (typeof POLICY_VERDICTS)[number];
export const CFG_POLICY = 1;
/** vxm_config flag: native encapsulation off, every tunnelled frame takes vxe0 (VXMESH_NATIVE_ENCAP=off). */
export const CFG_NATIVE_OFF = 2;
export const POL_ANY = 1;
export const POL_MAX_RANGES = 16;

/** vxm_ev_config flag: events for forwarding verdicts too (`vxmesh monitor --all`). */
export const EV_TRACE = 1;
/** vxm_events' size in bytes (VXM_EV_RING_BYTES). */
export const EV_RING_BYTES = 256 * 1024;
/** Events a second each CPU may send, and the burst above that rate (VXM_EV_RATE, VXM_EV_BURST); the rest is counted lost. */
export const EV_RATE = 1000;
export const EV_BURST = 200;

/** enum vxm_hook, by value (0 unused). */
export const HOOKS = ['', 'vxm_from_vm', 'vxm_from_tunnel', 'vxm_from_uplink', 'vxm_to_port'] as const;
/** enum vxm_err, by value (0: none, a forwarding verdict). Never renumber. */
export const REASONS = [
  '', 'malformed', 'spoof-mac', 'spoof-ip', 'unknown-vtep', 'unknown-vni', 'vlan', 'tunnel-key', 'policy', 'unbound',
  'ipv6', 'native', 'encap-broken', 'broadcast-unicast', 'dhcp', 'broadcast-rate',
] as const;
export type Reason = Exclude<(typeof REASONS)[number], ''>;
/** enum vxm_miss, by value: what exactly failed within a reason. */
export const MISSES = [
  'none', 'no-endpoint', 'other-port', 'not-local', 'arp-sender', 'no-arp', 'other-mac', 'unspecified',
  'no-rule', 'no-port', 'not-ipv4', 'vlan-stripped',
] as const;
export type Miss = (typeof MISSES)[number];

const mac6 = koffi.array('uint8_t', 6, 'Array');
const pad2 = koffi.array('uint8_t', 2, 'Array');

const polRange = koffi.struct('vxm_pol_range', { from: 'uint16_t', to: 'uint16_t', proto: 'uint8_t', pad: koffi.array('uint8_t', 3, 'Array') });

/** C struct name -> koffi type, for the BTF check. */
export const LAYOUTS = {
  vxm_port: koffi.struct('vxm_port', { vni: 'uint32_t', flags: 'uint32_t' }),
  vxm_endpoint_key: koffi.struct('vxm_endpoint_key', { vni: 'uint32_t', mac: mac6, pad: pad2 }),
  vxm_endpoint: koffi.struct('vxm_endpoint', { remote_vtep: 'uint32_t', ifindex: 'uint32_t', flags: 'uint32_t', next_vtep: 'uint32_t' }),
  vxm_arp_key: koffi.struct('vxm_arp_key', { vni: 'uint32_t', ip: koffi.array('uint8_t', 4, 'Array') }),
  vxm_arp_entry: koffi.struct('vxm_arp_entry', { mac: mac6, pad: pad2 }),
  vxm_network: koffi.struct('vxm_network', {
    gateway_ip: koffi.array('uint8_t', 4, 'Array'), gateway_mac: mac6, pad: pad2,
    bridge_ifindex: 'uint32_t', cluster_id: 'uint32_t', flags: 'uint32_t', bcast_ip: koffi.array('uint8_t', 4, 'Array'),
    local_vtep: koffi.array('uint8_t', 4, 'Array'), uplink_ifindex: 'uint32_t', vtep_port: koffi.array('uint8_t', 2, 'Array'), pad2: 'uint16_t',
  }),
  vxm_vtep_key: koffi.struct('vxm_vtep_key', { cluster_id: 'uint32_t', ip: 'uint32_t' }),
  vxm_flood: koffi.struct('vxm_flood', { count: 'uint32_t', ips: koffi.array('uint32_t', VXM_MAX_PEERS, 'Array') }),
  vxm_config: koffi.struct('vxm_config', { vxe_ifindex: 'uint32_t', flags: 'uint32_t', object_hash: 'uint64_t' }),
  vxm_stat_key: koffi.struct('vxm_stat_key', { vni: 'uint32_t', verdict: 'uint32_t' }),
  vxm_stat: koffi.struct('vxm_stat', { packets: 'uint64_t', bytes: 'uint64_t' }),
  vxm_pol_ep: koffi.struct('vxm_pol_ep', { ingress: 'uint32_t', egress: 'uint32_t' }),
  vxm_pol_key: koffi.struct('vxm_pol_key', { prefixlen: 'uint32_t', group: 'uint32_t', addr: koffi.array('uint8_t', 4, 'Array') }),
  vxm_pol_range: polRange,
  vxm_pol_value: koffi.struct('vxm_pol_value', {
    flags: 'uint32_t', count: 'uint32_t',
    ranges: koffi.array(polRange, 16, 'Array'),
  }),
  vxm_pol_group: koffi.struct('vxm_pol_group', { vni: 'uint32_t', direction: 'uint32_t', policies: koffi.array('uint8_t', 120, 'Array') }),
  vxm_ct_key: koffi.struct('vxm_ct_key', {
    vni: 'uint32_t', saddr: koffi.array('uint8_t', 4, 'Array'), daddr: koffi.array('uint8_t', 4, 'Array'),
    sport: 'uint16_t', dport: 'uint16_t', proto: 'uint8_t', pad: koffi.array('uint8_t', 3, 'Array'),
  }),
  vxm_ct_entry: koffi.struct('vxm_ct_entry', { last_seen: 'uint64_t' }),
  vxm_bcast: koffi.struct('vxm_bcast', { tat: 'uint64_t' }),
  vxm_pol_stat_key: koffi.struct('vxm_pol_stat_key', { group: 'uint32_t', verdict: 'uint32_t' }),
  vxm_event: koffi.struct('vxm_event', {
    time_ns: 'uint64_t', hook: 'uint32_t', ifindex: 'uint32_t', vni: 'uint32_t', verdict: 'uint32_t',
    reason: 'uint32_t', miss: 'uint32_t', detail: 'uint32_t', group: 'uint32_t', outer_src: 'uint32_t', outer_dst: 'uint32_t',
    dst_mac: mac6, src_mac: mac6, ethertype: koffi.array('uint8_t', 2, 'Array'), direction: 'uint8_t', l4_proto: 'uint8_t',
    saddr: koffi.array('uint8_t', 4, 'Array'), daddr: koffi.array('uint8_t', 4, 'Array'),
    sport: koffi.array('uint8_t', 2, 'Array'), dport: koffi.array('uint8_t', 2, 'Array'), len: 'uint32_t',
  }),
  vxm_ev_cpu: koffi.struct('vxm_ev_cpu', { tat: 'uint64_t', sent: 'uint64_t', lost_rate: 'uint64_t', lost_ring: 'uint64_t' }),
  vxm_ev_config: koffi.struct('vxm_ev_config', { flags: 'uint32_t', pad: 'uint32_t' }),
} as const;
export type LayoutName = keyof typeof LAYOUTS;

// Compiled once (codec.ts): koffi.encode/decode per entry dominated a 100k-endpoint reconcile.
const CODECS = Object.fromEntries(Object.entries(LAYOUTS).map(([name, t]) => [name, codecOf(t)])) as Record<LayoutName, Codec>;

export function encode(layout: LayoutName, value: Record<string, unknown>): Buffer {
  return CODECS[layout].encode(value);
}

export function decode<T = Record<string, unknown>>(layout: LayoutName, buf: Buffer): T {
  return CODECS[layout].decode(buf) as T;
}

export const sizeOf = (layout: LayoutName): number => koffi.sizeof(LAYOUTS[layout]);

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}
export const readU32 = (b: Buffer): number => b.readUInt32LE(0);

// ---- value conversions ----

// macBytes and ipBytes parse by hand: split/parseInt made up a tenth of a 100k-endpoint reconcile.
/** "52:54:00:ab:cd:ef" (1–2 hex digits per byte, any case) -> 6 bytes. */
export function macBytes(mac: string): number[] {
  return parseBytes(mac, 0x3a, 6, 2, 16, 'MAC');
}
export const macString = (b: number[]): string => b.map((x) => x.toString(16).padStart(2, '0')).join(':');

export function ipBytes(ip: string): number[] {
  return parseBytes(ip, 0x2e, 4, 3, 10, 'IPv4');
}

/** `count` numbers 0..255 of 1..`digits` digits in `radix`, separated by `sep` (a char code). */
function parseBytes(s: string, sep: number, count: number, digits: number, radix: number, what: string): number[] {
  const out: number[] = [];
  let v = 0;
  let n = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : sep;
    if (c === sep) {
      if (n === 0 || v > 255 || out.length === count) throw new Error(`bad ${what} ${s}`);
      out.push(v);
      v = 0;
      n = 0;
      continue;
    }
    const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : (c | 0x20) >= 0x61 && (c | 0x20) <= 0x66 ? (c | 0x20) - 0x57 : 99;
    if (d >= radix || ++n > digits) throw new Error(`bad ${what} ${s}`);
    v = v * radix + d;
  }
  if (out.length !== count) throw new Error(`bad ${what} ${s}`);
  return out;
}
export const ipString = (b: number[]): string => b.join('.');

/** IPv4 as a host-order u32 (what bpf_tunnel_key.remote_ipv4 holds). */
export function ipHost(ip: string): number {
  const [a, b, c, d] = ipBytes(ip);
  return ((a! << 24) | (b! << 16) | (c! << 8) | d!) >>> 0;
}
export const hostIpString = (n: number): string => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');

/** Stable cluster-network id: FNV-1a 32 of the ClusterNetwork name (same on every node, every restart). */
export function clusterId(name: string): number {
  return fnv1a(name) || 1;
}
