/** `vxmesh monitor`: live verdict events of this node's BPF programs, drops with their reasons (bpf mode). */
import fs from 'node:fs';
import path from 'node:path';
import { hostname } from 'node:os';
import { UsageError, VxmeshError } from '../errors.js';
import { names } from '../dataplane/names.js';
import { listLinks } from '../dataplane/netlink/link.js';
import { EventMonitor, concernsVm, eventNames, policyGroups } from '../dataplane/bpf/monitor.js';
import { EVENT_BUDGET, EventFolder, eventJson, formatEvent, formatFolded, monotonicToWallNs, type EventNames, type MonitorEvent } from '../dataplane/bpf/events.js';
import type { EventCounters } from '../dataplane/bpf/maps.js';
import type { Snapshot } from '../model/schema.js';
import { componentLogger } from '../log.js';
import { createFileSource } from '../sources/file/index.js';
import { createKubernetesSource } from '../sources/kubernetes/index.js';
import { noExtra, parse, str } from './args.js';

export const MONITOR_USAGE = `Usage: vxmesh monitor [--drops|--all] [--vni N] [--vm X] [--json] [--interval S] [options]

Prints the verdicts of this node's BPF programs as they happen, one line per frame: time (UTC), program, port
(and the VM it is bound to), network, sender → receiver, flow and, for a drop, the reason in words and
exactly which check or lookup refused it. Repeats are folded: the first is printed, the others counted
and printed as one "×N more in S s" line per interval. Events the programs could not send (over the budget
of ${EVENT_BUDGET}, or the ring buffer full) are counted in BPF and printed as "lost", apart from the drops.
bpf mode only (kernel mode: the anti-spoofing table's counters, \`vxmesh inspect\`).

Options:
  --drops           drops only (default)
  --all             forwarding verdicts too: switched on in the running programs while this runs (no reload),
                    restored on exit (also on SIGINT/SIGTERM)
  --vni N           only events of VNI N
  --vm X            only events of VM X (<ns>/<name> or name): its port, or its address as sender or receiver
  --json            one JSON object per line, every event (no folding); lost counts as {"lost": …}
  --interval S      folding window and lost report, seconds (default 10)
  --duration S      stop after S seconds (default: until SIGINT/SIGTERM)
  --bpffs PATH      bpffs mount the agent pins under (default /sys/fs/bpf)
  --node NAME       node name (default: hostname)
  --source SRC      file:PATH of the state directory, or kubernetes: names networks, VMs and nodes
  --kubeconfig PATH with --source kubernetes
  -h, --help        show this help`;

const POLL_MS = 100;

function seconds(v: string | undefined, flag: string, dflt?: number): number | undefined {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${flag} must be a positive number of seconds (got ${v})`);
  return n;
}

async function readSnapshot(src: string | undefined, node: string, kubeconfig: string | undefined): Promise<Snapshot | undefined> {
  if (!src) return undefined;
  if (!src.startsWith('file:') && src !== 'kubernetes') throw new UsageError(`--source must be file:PATH or kubernetes (got ${src})`);
  const log = componentLogger('monitor', { node });
  const source = src === 'kubernetes' ? createKubernetesSource({ node, log, kubeconfig }) : createFileSource({ path: src.slice(5), log });
  await source.start(() => {});
  try {
    return source.current().snapshot;
  } finally {
    await source.close();
  }
}

const lostDelta = (now: EventCounters, base: EventCounters) => ({ rate: now.lostRate - base.lostRate, ring: now.lostRing - base.lostRing });

export async function monitorCommand(argv: string[]): Promise<number> {
  const p = parse(argv, {
    drops: { type: 'boolean' }, all: { type: 'boolean' }, vni: { type: 'string' }, vm: { type: 'string' }, json: { type: 'boolean' },
    interval: { type: 'string' }, duration: { type: 'string' }, bpffs: { type: 'string' }, node: { type: 'string' },
    source: { type: 'string' }, kubeconfig: { type: 'string' },
  }, MONITOR_USAGE);
  if (p.values.help) {
    console.log(MONITOR_USAGE);
    return 0;
  }
  noExtra(p, 0, MONITOR_USAGE);
  if (p.values.drops && p.values.all) throw new UsageError('--drops and --all exclude each other');
  const vni = str(p, 'vni') === undefined ? undefined : Number(str(p, 'vni'));
  if (vni !== undefined && !Number.isInteger(vni)) throw new UsageError(`--vni must be a number (got ${str(p, 'vni')})`);
  const intervalMs = seconds(str(p, 'interval'), 'interval', 10)! * 1000;
  const durationS = seconds(str(p, 'duration'), 'duration');
  const node = str(p, 'node') ?? hostname();
  const pinDir = names.pinDir(str(p, 'bpffs') ?? '/sys/fs/bpf');
  if (!fs.existsSync(path.join(pinDir, 'vxm_events'))) {
    throw new VxmeshError('MONITOR', `no vxm_events under ${pinDir}: this node runs no bpf dataplane of this version (kernel mode has no events; see vxmesh inspect)`);
  }
  const snapshot = await readSnapshot(str(p, 'source'), node, str(p, 'kubeconfig'));
  const all = !!p.values.all;
  const json = !!p.values.json;
  const vm = str(p, 'vm');

  const mon = EventMonitor.open(pinDir);
  let namesNow: EventNames = eventNames([], new Map(), snapshot);
  const refreshNames = async () => {
    namesNow = eventNames(await listLinks({}), policyGroups(mon.maps), snapshot);
  };
  const folder = new EventFolder();
  const clockOffset = monotonicToWallNs();
  let base = mon.counters();
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const wanted = (e: MonitorEvent) => (all || e.drop) && (vni === undefined || e.vni === vni || (e.vni === 0 && e.detail === vni)) && (!vm || concernsVm(e, namesNow, vm));
  // The ring keeps what nobody read since the last reader stopped: that backlog is not "live".
  const startNs = process.hrtime.bigint();
  let backlog = 0;
  const drain = () => {
    for (const e of mon.take()) {
      if (e.timeNs < startNs) {
        backlog++;
        continue;
      }
      if (backlog) {
        if (!json) out(`(${backlog} event(s) from before this monitor started left out)`);
        backlog = 0;
      }
      if (!wanted(e)) continue;
      if (json) out(JSON.stringify(eventJson(e, namesNow, clockOffset)));
      else if (folder.add(e, Date.now())) out(formatEvent(e, namesNow, clockOffset));
    }
  };
  const report = () => {
    for (const f of folder.flush()) out(formatFolded(f, namesNow, intervalMs));
    const now = mon.counters();
    const lost = lostDelta(now, base);
    base = now;
    if (lost.rate + lost.ring === 0) return;
    if (json) out(JSON.stringify({ lost: { overBudget: lost.rate, ringFull: lost.ring } }));
    else out(`lost: ${lost.rate + lost.ring} events (${lost.rate} over the budget of ${EVENT_BUDGET}, ${lost.ring} with the ring buffer full)`);
  };

  await refreshNames();
  if (all) mon.trace(true);
  return new Promise<number>((resolve) => {
    let done = false;
    const poll = setInterval(() => {
      try {
        drain();
      } catch (err) {
        stop(err);
      }
    }, POLL_MS);
    const tick = setInterval(() => {
      report();
      void refreshNames().catch(() => {}); // ports come and go; a failed listing keeps the last names
    }, intervalMs);
    const timer = durationS ? setTimeout(() => stop(), durationS * 1000) : undefined;
    const onSignal = () => stop();
    function stop(err?: unknown) {
      if (done) return;
      done = true;
      clearInterval(poll);
      clearInterval(tick);
      if (timer) clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      try {
        drain();
        report();
      } catch (e) {
        err ??= e;
      } finally {
        mon.close(); // restores the trace flag
      }
      if (err) console.error(`vxmesh monitor: ${err instanceof VxmeshError ? err.message : (err as Error).stack ?? String(err)}`);
      resolve(err ? 1 : 0);
    }
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
