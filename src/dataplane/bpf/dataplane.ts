/**
 * BpfDataplane: the shared bridges + gateway (gateway module, as in kernel mode), one collect-metadata
 * vxlan device, and two TC programs steering from pinned maps. reconcile() observes devices, maps and
 * attachments, computes the desired maps purely (desired.ts) and writes only the difference.
 * Programs stay attached and pinned across agent restarts; only cleanup()/retire() remove them.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Dataplane, DataplaneOptions, EventsLost, InspectReport, PacketCounter, ReconcileReport } from '../dataplane.js';
import type { NodeIntent } from '../../intent/types.js';
import { DataplaneError } from '../../errors.js';
import { run } from '../../util/exec.js';
import { names } from '../names.js';
import { listLinks, type LinkInfo } from '../netlink/link.js';
import { cleanupGateways, reconcileGateways } from '../gateway/index.js';
import { reconcileDhcp } from '../dhcp/index.js';
import { describeChange } from '../netlink/change.js';
import * as bpf from './libbpf.js';
import { ensurePrograms, objectDir, openPinnedProgram, type ProgramName } from './loader.js';
import { fillFromIntent } from './upgrade-fill.js';
import { PinnedMaps, vniOfChange, type RefusedChange } from './maps.js';
import { MANAGED_MAPS, desiredMaps, diffMaps } from './desired.js';
import { observedEndpoints } from './endpoints.js';
import { nativeEncapFrom, nodeEnv, planDevices, uplinkIfindexes } from './devices.js';
import { applyAttach, observeAttach, planAttach } from './attach.js';
import { inspectData, inspectText } from './inspect.js';
import { reconcileShares } from './ct-shares.js';
import { detachAll } from './teardown.js';
import { UnboundReporter } from '../vm-ports.js';
import { reconcileAntispoof, removeAntispoof } from '../kernel/antispoof-apply.js';

type Errors = ReconcileReport['errors'];
interface MapsResult { changes: number; errors: Errors; entries: Record<string, number>; refused: Record<string, number> }

export class BpfDataplane implements Dataplane {
  readonly mode = 'bpf' as const;
  readonly pinDir: string;
  private readonly unbound = new UnboundReporter();
  /** programMaps runs one at a time: a pass's and programPorts' (the tail of the chain). */
  private mapsLock: Promise<unknown> = Promise.resolve();
  /** Bumped by every programMaps: links listed before a bump may miss a port another run programmed. */
  private mapsEpoch = 0;

  constructor(private readonly opts: DataplaneOptions) {
    this.pinDir = names.pinDir(opts.bpffs ?? '/sys/fs/bpf');
  }

  private get log() {
    return this.opts.log.child({ component: 'dataplane.bpf', node: this.opts.node });
  }

  /**
   * One pass. The maps and attachments (what VM traffic needs) go first when the shared devices already
   * exist, so a newly plugged port is programmed in milliseconds, not after the slower gateway and DHCP
   * work (router namespaces, nft, dnsmasq); they run again at the end only when that work changed devices.
   */
  async reconcile(intent: NodeIntent): Promise<ReconcileReport> {
    const t0 = Date.now();
    const log = this.log;
    const netns = this.opts.netns;
    const errors: Errors = [];
    let changes = 0;
    const phases: Record<string, number> = {};
    let tp = Date.now();
    const phase = (name: string) => {
      phases[name] = Date.now() - tp;
      tp = Date.now();
    };

    // 1. Devices of kernel mode that block ours; then, if nothing structural is missing, the maps at once.
    const epoch = this.mapsEpoch;
    const links = await listLinks({ netns });
    const blocking = planDevices(links, intent).filter((s) => s.argv[3]?.startsWith('vxl'));
    for (const step of blocking) changes += await this.step(step.argv, step.reason, errors);
    const early = await this.programMaps(intent, blocking.length ? undefined : { links, epoch });
    if (early) changes += early.changes;
    phase('maps');
    // 2. The shared bridges and gateways, vxe, DHCP servers.
    const gw = await reconcileGateways(intent, { node: this.opts.node, netns, log });
    changes += gw.applied;
    errors.push(...gw.errors);
    let deviceChanges = gw.applied;
    for (const step of planDevices(await listLinks({ netns }), intent)) deviceChanges += await this.step(step.argv, step.reason, errors);
    changes += deviceChanges - gw.applied;
    phase('gateways');
    const dhcp = await reconcileDhcp(intent, { node: this.opts.node, netns, log });
    changes += dhcp.applied;
    errors.push(...dhcp.errors);
    phase('dhcp');
    // 3. Maps and attachments again when step 2 created or replaced devices (new ifindexes), or step 1 could not run.
    const final = early && deviceChanges === 0 ? early : await this.programMaps(intent);
    if (final !== early) {
      changes += final!.changes;
      phase('maps2');
    }
    errors.push(...final!.errors);
    const durationMs = Date.now() - t0;
    for (const e of errors) log.error({ vni: e.vni, network: e.network, err: e.message }, 'reconcile error');
    log.info({ changes, errors: errors.length, durationMs, phases }, 'reconciled');
    return { mode: 'bpf', changes, errors, durationMs, entries: final!.entries, ...(Object.keys(final!.refused).length ? { refused: final!.refused } : {}) };
  }

  /**
   * A VM port was plugged or unplugged: the maps, attachments and port gate for it at once, between the
   * phases of a pass in flight rather than after it (a migrating VM's port on its target and the
   * forwarding entry its source keeps). Nothing when the shared devices or tables are not complete yet:
   * the full pass that follows does it. `intent`: the one the last pass computed.
   */
  async programPorts(intent: NodeIntent): Promise<{ changes: number; errors: number; durationMs: number } | undefined> {
    const t0 = Date.now();
    const r = await this.programMaps(intent, { links: await listLinks({ netns: this.opts.netns }), epoch: this.mapsEpoch });
    return r && { changes: r.changes, errors: r.errors.length, durationMs: Date.now() - t0 };
  }

  /**
   * Programs (reused when the pinned ones come from the same build), maps, attachments: observe, diff, apply.
   * `early` (the links the caller listed, at mapsEpoch `epoch`): gives up (undefined, nothing written) when
   * the desired tables cannot be complete yet, e.g. a network's bridge or the vxe device does not exist
   * before step 2. One run at a time; links listed before another run are listed again.
   */
  private programMaps(intent: NodeIntent, early?: { links: LinkInfo[]; epoch: number }): Promise<MapsResult | undefined> {
    const job = this.mapsLock.then(async () => {
      try {
        const links = early && early.epoch === this.mapsEpoch ? early.links : await listLinks({ netns: this.opts.netns });
        return await this.programMapsNow(intent, links, early !== undefined);
      } finally {
        this.mapsEpoch++;
      }
    });
    this.mapsLock = job.catch(() => undefined);
    return job;
  }

  private async programMapsNow(intent: NodeIntent, links: LinkInfo[], early: boolean): Promise<MapsResult | undefined> {
    const log = this.log;
    const netns = this.opts.netns;
    const errors: Errors = [];
    let changes = 0;
    if (early && !sharedDevicesExist(links, intent)) return undefined;
    // A new build: its maps filled from this intent before its programs take over (upgrade.ts).
    const progs = ensurePrograms(this.pinDir, objectDir(), (staging, hash) => void fillFromIntent(staging, intent, links, hash), (line) => log.info({ op: 'upgrade' }, line));
    if (progs.loaded) {
      changes++;
      log.info({ op: 'load', hash: progs.hash, maps: Object.fromEntries(progs.steps.map((s) => [s.map, s.action])) }, 'programs loaded');
    }
    let maps: PinnedMaps;
    try {
      maps = PinnedMaps.open(this.pinDir);
    } catch (err) {
      progs.settle();
      throw err;
    }
    const fds: Partial<Record<ProgramName, number>> = {};
    try {
      // Flow-table shares before the policy maps, so the first allowed packet is recorded (ct-shares.ts).
      const shares = reconcileShares(maps.fd('vxm_ct'), intent);
      changes += shares.changes;
      const keyOf = new Map(intent.clusterNetworks.flatMap((cn) => cn.networks.map((n) => [n.vni, n.key] as const)));
      errors.push(...shares.errors.map((e) => ({ ...e, network: keyOf.get(e.vni) })));
      const observed = maps.readState();
      const seen = observedEndpoints(observed.vxm_endpoints);
      const env = { ...nodeEnv(links, progs.hash, nativeEncapFrom(process.env)), localPorts: seen.ports, remoteVteps: seen.remotes };
      const desired = desiredMaps(intent, env);
      if (early && desired.errors.length) return undefined;
      errors.push(...desired.errors);
      const mapChanges = diffMaps(observed, desired.state);
      const refusedChanges = maps.apply(mapChanges);
      changes += mapChanges.length - refusedChanges.length;
      const refused = refusedByMap(refusedChanges);
      errors.push(...refusedErrors(refusedChanges, intent));
      for (const r of refusedChanges) log.debug({ map: r.change.map, key: r.change.key, err: r.message }, 'map entry refused');
      // The maps now hold the desired tables except the refused entries (reported against their networks).
      const entries = Object.fromEntries(MANAGED_MAPS.filter((m) => m !== 'vxm_config').map((m) => [m, desired.state[m].size - (refused[m] ?? 0)]));
      for (const c of mapChanges) log.debug({ map: c.map, op: c.op, key: c.key }, 'map entry changed');

      const want = new Map<number, ProgramName>();
      for (const k of desired.state.vxm_ports.keys()) want.set(Buffer.from(k, 'hex').readUInt32LE(0), 'fromVm');
      for (const l of links) if (/^vxe\d+$/.test(l.name)) want.set(l.ifindex, 'fromTunnel');
      for (const i of uplinkIfindexes(intent, links, env.nativeEncap !== false)) want.set(i, 'fromUplink');
      const steps = planAttach(want, observeAttach(netns, links.map((l) => l.ifindex)), progs.ids);
      if (steps.length) {
        fds.fromVm = openPinnedProgram(this.pinDir, 'fromVm');
        fds.fromTunnel = openPinnedProgram(this.pinDir, 'fromTunnel');
        fds.fromUplink = openPinnedProgram(this.pinDir, 'fromUplink');
        const failures = applyAttach(netns, steps, fds as Record<ProgramName, number>);
        changes += steps.length - failures.length;
        const nameOf = new Map(links.map((l) => [l.ifindex, l.name]));
        for (const f of failures) errors.push({ message: `${f.step.op} ${nameOf.get(f.step.ifindex) ?? f.step.ifindex}: ${f.message}` });
      }
      // Egress of the same ports: vxm_to_port (policy for frames from ports not programmed yet).
      const wantEgress = new Map<number, ProgramName>([...want].filter(([, p]) => p === 'fromVm').map(([i]) => [i, 'toPort']));
      const egressSteps = planAttach(wantEgress, observeAttach(netns, links.map((l) => l.ifindex), bpf.BPF_TC_EGRESS), progs.ids);
      if (egressSteps.length) {
        fds.toPort = openPinnedProgram(this.pinDir, 'toPort');
        const failures = applyAttach(netns, egressSteps, fds, bpf.BPF_TC_EGRESS);
        changes += egressSteps.length - failures.length;
        for (const f of failures) errors.push({ message: `egress ${f.step.op} #${f.step.ifindex}: ${f.message}` });
      }
      // The port gate (kernel/antispoof.ts): what reaches the bridge from a VM port, and every port not
      // programmed yet. After the attachments, so a port is admitted there only once its program runs.
      const gate = await reconcileAntispoof(intent, links, { netns, log, reporter: this.unbound });
      changes += gate.applied;
      if (gate.error) errors.push({ message: gate.error });
      return { changes, errors, entries, refused };
    } finally {
      // After the attachments: the old programs are gone; flows they recorded since the carry are carried.
      const late = progs.settle();
      if (late) log.info({ op: 'upgrade', flows: late }, 'flows recorded during the switch carried');
      for (const fd of Object.values(fds)) bpf.closeFd(fd);
      maps.close();
    }
  }

  private async step(argv: string[], reason: string, errors: Errors): Promise<number> {
    const r = await run(argv, { netns: this.opts.netns, allowFailure: true });
    if (r.exitCode !== 0) {
      errors.push({ message: `${argv.join(' ')} (${reason}): ${r.stderr.trim()}` });
      return 0;
    }
    this.log.debug({ op: argv.slice(1, 3).join(' '), reason }, 'device changed');
    return 1;
  }

  async inspect(): Promise<InspectReport> {
    if (!fs.existsSync(path.join(this.pinDir, 'vxm_config'))) {
      return { mode: 'bpf', text: `bpf dataplane: nothing pinned under ${this.pinDir}`, data: null };
    }
    const links = await listLinks({ netns: this.opts.netns });
    const maps = PinnedMaps.open(this.pinDir);
    try {
      const data = inspectData(maps, new Map(links.map((l) => [l.ifindex, l.name])));
      return { mode: 'bpf', text: inspectText(data), data };
    } finally {
      maps.close();
    }
  }

  async counters(): Promise<PacketCounter[]> {
    if (!fs.existsSync(path.join(this.pinDir, 'vxm_stats'))) return [];
    const maps = PinnedMaps.open(this.pinDir);
    try {
      return maps.readStats();
    } finally {
      maps.close();
    }
  }

  async eventsLost(): Promise<EventsLost | undefined> {
    if (!fs.existsSync(path.join(this.pinDir, 'vxm_ev_cpu'))) return undefined;
    const maps = PinnedMaps.open(this.pinDir);
    try {
      const c = maps.readEventCounters();
      return { overBudget: c.lostRate, ringFull: c.lostRing };
    } finally {
      maps.close();
    }
  }

  async cleanup(): Promise<void> {
    await this.retire();
    await removeAntispoof(this.opts.netns); // shared by both modes: retire() keeps it
    const res = await cleanupGateways({ node: this.opts.node, netns: this.opts.netns, log: this.log, bridges: true });
    if (res.failures.length) {
      throw new DataplaneError('BPF_CLEANUP', `cleanup: ${res.failures.map((f) => `${describeChange(f.change)}: ${f.message}`).join('; ')}`);
    }
  }

  async retire(): Promise<void> {
    const netns = this.opts.netns;
    const links = await listLinks({ netns });
    await detachAll(netns, links);
    for (const l of links) if (/^vxe\d+$/.test(l.name)) await run(['ip', 'link', 'del', l.name], { netns, allowFailure: true });
    fs.rmSync(this.pinDir, { recursive: true, force: true });
  }

  async close(): Promise<void> {}
}

/** Every network's bridge and every cluster network's vxe device exist (else the maps cannot be complete). */
export function sharedDevicesExist(links: Array<{ name: string }>, intent: NodeIntent): boolean {
  const have = new Set(links.map((l) => l.name));
  return intent.clusterNetworks.every((cn) => have.has(names.externalVxlan(cn.port)) && cn.networks.every((n) => have.has(names.bridge(n.vni))));
}

/** Refused map entries per map (vxmesh_map_entries_refused_total). */
export function refusedByMap(refused: RefusedChange[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of refused) out[r.change.map] = (out[r.change.map] ?? 0) + 1;
  return out;
}

/** Pure: one error per network (or node-wide map) whose entries the kernel refused, naming the maps, counts and errno. */
export function refusedErrors(refused: RefusedChange[], intent: NodeIntent): Errors {
  const keyOf = new Map(intent.clusterNetworks.flatMap((cn) => cn.networks.map((n) => [n.vni, n.key] as const)));
  const groups = new Map<string, { vni?: number; perMap: Map<string, { n: number; err: string }> }>();
  for (const r of refused) {
    const vni = vniOfChange(r.change);
    const g = groups.get(String(vni)) ?? { vni, perMap: new Map() };
    const m = g.perMap.get(r.change.map) ?? { n: 0, err: r.message };
    m.n++;
    g.perMap.set(r.change.map, m);
    groups.set(String(vni), g);
  }
  return [...groups.values()].map((g) => ({
    ...(g.vni !== undefined ? { vni: g.vni, network: keyOf.get(g.vni) } : {}),
    message: `map entries refused, the rest of the node is programmed: ${[...g.perMap].map(([map, m]) => `${map}: ${m.n} entr${m.n === 1 ? 'y' : 'ies'} (${m.err})`).join('; ')}`,
  }));
}
