/**
 * monitor.ts: the live side of `vxmesh monitor`: reads the pinned vxm_events ring buffer (events.ts
 * decodes), the lost-event counters (vxm_ev_cpu) and switches forwarding events on and off at run time
 * (vxm_ev_config, no program reload). The names events are said with come from the node (links and
 * their aliases, vxm_pol_groups) and, when the caller has it, the source's snapshot (networks, VM
 * addresses, VTEPs of nodes): eventNames() below.
 */
import { EV_TRACE, decode } from './abi.js';
import * as bpf from './libbpf.js';
import { PinnedMaps, type EventCounters } from './maps.js';
import { decodeEvent, type EventNames, type MonitorEvent } from './events.js';
import { parsePortBinding } from '../port-binding.js';
import type { LinkInfo } from '../netlink/link.js';
import { keyOf, type Snapshot } from '../../model/schema.js';

export class EventMonitor {
  private readonly reader: bpf.RingReader;
  private pending: MonitorEvent[] = [];
  private restoreFlags: number | undefined;

  private constructor(readonly maps: PinnedMaps) {
    this.reader = bpf.ringBufferOpen(maps.fd('vxm_events'), (data) => this.pending.push(decodeEvent(data)));
  }

  /** Opens the node's pinned maps under `pinDir` and the ring buffer; close() releases both. */
  static open(pinDir: string): EventMonitor {
    const maps = PinnedMaps.open(pinDir);
    try {
      return new EventMonitor(maps);
    } catch (err) {
      maps.close();
      throw err;
    }
  }

  /** Every event the ring holds now, oldest first (never waits). */
  take(): MonitorEvent[] {
    this.reader.consume();
    const out = this.pending;
    this.pending = [];
    return out;
  }

  counters(): EventCounters {
    return this.maps.readEventCounters();
  }

  /** Forwarding events on (or off) now; restore() puts back what was there before the first call. */
  trace(on: boolean): void {
    const flags = this.maps.eventFlags();
    this.restoreFlags ??= flags;
    this.maps.setEventFlags(on ? flags | EV_TRACE : flags & ~EV_TRACE);
  }

  restore(): void {
    if (this.restoreFlags === undefined) return;
    this.maps.setEventFlags(this.restoreFlags);
    this.restoreFlags = undefined;
  }

  /** Restores the trace flag, frees the ring buffer reader and closes the maps. */
  close(): void {
    try {
      this.restore();
    } finally {
      this.reader.close();
      this.maps.close();
    }
  }
}

/** Policy group id -> its policies' names, from vxm_pol_groups. */
export function policyGroups(maps: PinnedMaps): Map<number, string> {
  const out = new Map<number, string>();
  for (const [k, v] of maps.readTable('vxm_pol_groups')) {
    const g = decode<{ policies: number[] }>('vxm_pol_group', Buffer.from(v, 'hex'));
    out.set(Buffer.from(k, 'hex').readUInt32LE(0), Buffer.from(g.policies).toString('utf8').replace(/\0+$/, ''));
  }
  return out;
}

/** The names events are said with (events.ts EventNames), from what the node and the source know. Pure. */
export function eventNames(links: LinkInfo[], groups: Map<number, string>, snapshot?: Snapshot): EventNames {
  const ports = new Map(links.map((l) => [l.ifindex, { name: l.name, alias: l.alias, binding: parsePortBinding(l.alias) }]));
  const nets = new Map<number, { name: string; clusterNetwork?: string }>();
  const vniOf = new Map<string, number>();
  for (const n of snapshot?.vxlanNetworks ?? []) {
    nets.set(n.spec.vni, { name: keyOf(n), clusterNetwork: n.spec.clusterNetwork });
    vniOf.set(keyOf(n), n.spec.vni);
  }
  const vms = new Map<string, string>();
  for (const a of snapshot?.allocations ?? []) {
    const vni = vniOf.get(a.spec.network);
    if (vni !== undefined) vms.set(`${vni}/${a.spec.ip}`, `${a.metadata.namespace}/${a.spec.vm}`);
  }
  const nodes = new Map<string, string>();
  for (const s of snapshot?.statuses ?? []) if (s.status.vtepIP) nodes.set(s.status.vtepIP, s.status.node);
  return {
    port: (i) => ports.get(i),
    network: (vni) => nets.get(vni),
    group: (g) => groups.get(g),
    vmOfIp: (vni, ip) => vms.get(`${vni}/${ip}`),
    nodeOfVtep: (ip) => nodes.get(ip),
  };
}

/**
 * Does the event concern VM `vm` ("<ns>/<name>" or a bare name): the port it crossed is bound to it, or it
 * is the sender or receiver by address? Pure.
 */
export function concernsVm(e: MonitorEvent, names: EventNames, vm: string): boolean {
  const is = (x: string | undefined) => x !== undefined && (x === vm || x.endsWith(`/${vm}`));
  return is(names.port(e.ifindex)?.binding?.vm) || is(e.saddr && names.vmOfIp(e.vni, e.saddr)) || is(e.daddr && names.vmOfIp(e.vni, e.daddr));
}
