/**
 * The port gate and anti-spoofing of VM ports: one table `bridge vxmesh_antispoof`, in BOTH modes.
 *
 * Kernel mode has no program on the VM ports, so this table is its anti-spoofing: a bound VM port
 * (vm-ports.ts) may send only as its VM NIC — source MAC, IPv4 source (0.0.0.0 only for a DHCP client
 * message, UDP 68 -> 67), ARP sender MAC/IP (0.0.0.0 only in a probe) — and never VLAN-tagged or IPv6
 * frames; an unbound VM port carries nothing. In bpf mode vxm_from_vm checks the same before the bridge,
 * and this table checks again what reaches the bridge (broadcast, the gateway) — and, above all, closes
 * the window between a port being plugged and the agent programming it, in which the bridge alone
 * would carry the port's frames.
 *
 * Fail closed for ports the agent has not seen yet. This kernel has no CONFIG_NFT_BRIDGE_META, so a
 * rule cannot ask which bridge a frame came in on (`meta ibrname`); the table knows vxmesh's side
 * instead: its own devices (vxg<vni>, vxl<vni>) and the ports it admitted. In the forward hook a frame
 * between vxmesh's side and any other port is dropped, both ways, and in the prerouting hook (before
 * the bridge learns) a frame carrying the MAC of a VM of this node or of a gateway from a port that is
 * not admitted for it is dropped. So a port nobody programmed reaches neither the gateway, nor the
 * tunnel, nor any admitted VM, receives nothing from them, and cannot steal a local VM's or the
 * gateway's MAC in the bridge's FDB. (Remote VMs' MACs are left out: the set stays as small as the
 * node's own VMs, which every pass reads back. A stolen remote MAC only misdirects frames into the forward
 * hook's drop until the next pass repairs the FDB; bpf mode tunnels to remote VMs without the bridge.)
 * Frames of other bridges on the node never meet vxmesh's side and pass untouched.
 * What remains open: two ports both not yet programmed on one vxb<vni> bridge (two VMs of the same
 * network plugged within the same few milliseconds) can exchange frames until the next pass.
 *
 * Sets are keyed by ifindex (`iface_index`), never by name: a port deleted and recreated under the same
 * name is a new port and is not admitted until the agent has seen it. The rules are fixed; what changes
 * is set content, compared element by element with the kernel's and updated in place in one `nft -f`
 * transaction (drift repaired); the rules are replaced, table and all in one transaction, only when
 * their digest differs. Pure.
 */
import type { NodeIntent } from '../../intent/types.js';
import { gatewayMac } from '../names.js';
import type { LinkInfo } from '../netlink/link.js';
import type { ObservedTable } from '../netlink/nft.js';
import { Phase, type Change } from '../netlink/change.js';
import { fnv1aHex } from '../../util/hash.js';
import { assignPorts, vmPortsByVni, type VmPort } from '../vm-ports.js';

export const ANTISPOOF_TABLE = 'vxmesh_antispoof';
const T = `bridge ${ANTISPOOF_TABLE}`;

export const ANTISPOOF_SETS = {
  admitted: 'iface_index',
  unbound: 'iface_index',
  macs: 'iface_index . ether_addr',
  ips: 'iface_index . ipv4_addr',
  overlay_macs: 'ether_addr',
} as const;
export type AntispoofSet = keyof typeof ANTISPOOF_SETS;

/** Rule text, in order. The first prerouting rule carries the digest of all of them. */
const VM_CHAIN = [
  'ether type { 8021q, 8021ad } counter drop comment "vlan"',
  'ether type ip6 counter drop comment "ipv6"',
  'meta iif . ether saddr != @macs counter drop comment "spoof-mac"',
  'ip saddr 0.0.0.0 udp sport 68 udp dport 67 accept comment "dhcp-client"',
  'ip saddr 0.0.0.0 counter drop comment "spoof-unspecified"',
  'ether type ip meta iif . ip saddr != @ips counter drop comment "spoof-ip"',
  'ether type arp arp htype != 1 counter drop comment "arp-malformed"',
  'ether type arp arp ptype != ip counter drop comment "arp-malformed"',
  'ether type arp meta iif . arp saddr ether != @macs counter drop comment "spoof-arp-mac"',
  'arp saddr ip 0.0.0.0 arp operation request accept comment "arp-probe"',
  'arp saddr ip 0.0.0.0 counter drop comment "spoof-arp-unspecified"',
  'ether type arp meta iif . arp saddr ip != @ips counter drop comment "spoof-arp-ip"',
  'accept',
];
const PREROUTING = [
  'iifname "vxg*" accept',
  'iifname "vxl*" accept',
  'meta iif @admitted jump vm',
  'meta iif @unbound counter drop comment "unbound"',
  'ether saddr @overlay_macs counter drop comment "not-admitted-overlay-mac"',
];
const FROM_VXMESH = [
  'oifname "vxg*" accept',
  'oifname "vxl*" accept',
  'meta oif @admitted accept',
  'counter drop comment "to-not-admitted"',
];
const FORWARD = [
  'iifname "vxg*" jump from_vxmesh',
  'iifname "vxl*" jump from_vxmesh',
  'meta iif @admitted jump from_vxmesh',
  'oifname "vxg*" counter drop comment "from-not-admitted"',
  'oifname "vxl*" counter drop comment "from-not-admitted"',
  'meta oif @admitted counter drop comment "from-not-admitted"',
];

export const antispoofDigest = `antispoof#${fnv1aHex([VM_CHAIN, PREROUTING, FROM_VXMESH, FORWARD].map((c) => c.join('\n')).join('\n--\n'))}`;

export interface AntispoofState {
  /** Set name -> elements in nft syntax, ifindexes as numbers, sorted. */
  sets: Record<AntispoofSet, string[]>;
  /** VM ports bound to no endpoint of this node: they carry nothing. */
  unbound: VmPort[];
}

/** What the sets should hold for `intent` on a node with `links`. */
export function antispoofState(intent: NodeIntent, links: LinkInfo[]): AntispoofState {
  const byVni = vmPortsByVni(links);
  const admitted = new Set<string>();
  const unboundIdx = new Set<string>();
  const macs = new Set<string>();
  const ips = new Set<string>();
  const overlay = new Set<string>();
  const unbound: VmPort[] = [];
  const seenVni = new Set<number>();
  for (const cn of intent.clusterNetworks) {
    for (const net of cn.networks) {
      seenVni.add(net.vni);
      overlay.add((net.gatewayMac || gatewayMac(net.vni)).toLowerCase());
      for (const ep of net.endpoints) if (ep.local || ep.arriving) overlay.add(ep.mac.toLowerCase());
      const placed = assignPorts(net.endpoints, byVni[net.vni] ?? []);
      unbound.push(...placed.unbound);
      for (const ep of net.endpoints) {
        const port = placed.portOf.get(ep.mac.toLowerCase());
        if (!port) continue;
        admitted.add(String(port.ifindex));
        macs.add(`${port.ifindex} . ${ep.mac.toLowerCase()}`);
        ips.add(`${port.ifindex} . ${ep.ip}`);
      }
    }
  }
  // VM ports of a bridge whose network this node does not serve (any more) carry nothing either.
  for (const [vni, ports] of Object.entries(byVni)) if (!seenVni.has(Number(vni))) unbound.push(...ports);
  for (const p of unbound) unboundIdx.add(String(p.ifindex));
  const sorted = (s: Set<string>) => [...s].sort();
  return {
    sets: { admitted: sorted(admitted), unbound: sorted(unboundIdx), macs: sorted(macs), ips: sorted(ips), overlay_macs: sorted(overlay) },
    unbound,
  };
}

function chainText(name: string, rules: string[], hook?: string): string[] {
  return [
    `  chain ${name} {`,
    ...(hook ? [`    type filter hook ${hook} priority -300; policy accept;`] : []),
    ...rules.map((r) => `    ${r}`),
    '  }',
  ];
}

/** The whole table as one `nft -f` script body. */
export function renderAntispoof(state: AntispoofState): string {
  const sets = (Object.keys(ANTISPOOF_SETS) as AntispoofSet[]).map((name) => {
    const els = state.sets[name].length ? ` elements = { ${state.sets[name].join(', ')} };` : '';
    return `  set ${name} { type ${ANTISPOOF_SETS[name]};${els} }`;
  });
  const [first, ...rest] = PREROUTING;
  return [
    `table ${T} {`,
    ...sets,
    ...chainText('vm', VM_CHAIN),
    ...chainText('prerouting', [`${first} comment "${antispoofDigest}"`, ...rest], 'prerouting'),
    ...chainText('from_vxmesh', FROM_VXMESH),
    ...chainText('forward', FORWARD, 'forward'),
    '}',
  ].join('\n');
}

/** An observed element with interface names (as nft lists them) turned back into ifindexes. */
function normalize(el: string, ifindex: Map<string, number>): string {
  return el
    .split(' . ')
    .map((part, i) => (i === 0 && ifindex.has(part) ? String(ifindex.get(part)) : part))
    .join(' . ');
}

/** Why the observed table must be replaced as a whole (undefined: only set elements may differ). */
function structureDiffers(observed: ObservedTable): string | undefined {
  for (const [name, type] of Object.entries(ANTISPOOF_SETS)) {
    if (observed.sets.find((s) => s.name === name)?.type !== type) return `set ${name} missing or of another type`;
  }
  const pre = observed.chains.find((c) => c.name === 'prerouting');
  if (!pre || pre.rules[0] !== antispoofDigest) return 'rules differ';
  if (observed.chains.length !== 4 || observed.sets.length !== Object.keys(ANTISPOOF_SETS).length) return 'chains or sets differ';
  return undefined;
}

/** The one transaction turning the observed table into the desired one (none when already equal). */
export function planAntispoof(observed: ObservedTable | undefined, state: AntispoofState, links: LinkInfo[]): Change[] {
  const mk = (script: string, reason: string): Change => ({ tool: 'nft', args: [script], phase: Phase.filter - 1, reason });
  if (!observed) return [mk(renderAntispoof(state), 'anti-spoofing table missing')];
  const why = structureDiffers(observed);
  if (why) return [mk(`table ${T} {}\ndelete table ${T}\n${renderAntispoof(state)}`, `anti-spoofing table: ${why}`)];
  const ifindex = new Map(links.map((l) => [l.name, l.ifindex]));
  const dels: string[] = [];
  const adds: string[] = [];
  for (const name of Object.keys(ANTISPOOF_SETS) as AntispoofSet[]) {
    const have = new Set(observed.sets.find((s) => s.name === name)!.elements.map((e) => normalize(e, ifindex)));
    const want = new Set(state.sets[name]);
    const del = [...have].filter((e) => !want.has(e));
    const add = [...want].filter((e) => !have.has(e));
    if (del.length) dels.push(`delete element ${T} ${name} { ${del.join(', ')} }`);
    if (add.length) adds.push(`add element ${T} ${name} { ${add.join(', ')} }`);
  }
  // Revocations first, in the same transaction: a port never holds two bindings at once.
  const script = [...dels, ...adds];
  return script.length ? [mk(script.join('\n'), 'anti-spoofing sets differ')] : [];
}
