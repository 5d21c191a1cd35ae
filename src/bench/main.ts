/**
 * `npm run bench`: the underlay, kernel mode and bpf mode side by side in one run, on namespaces the bench
 * creates (vxm-b<id>…, labs b<k|b><id>), removed at the end even on failure or Ctrl-C.
 * Phases: data path (per profile, N runs, modes rotated), control plane (worker per sample), lab (migration,
 * agent restart). Writes <out>/<date>-<host>.{json,md}, -throughput.svg, -programming.svg.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parseArgs, USAGE, type BenchOptions } from './args.js';
import { Progress } from './progress.js';
import { BenchTopology, PATH_MODES, type PathMode } from './topo.js';
import { cleanSwitch } from './profile.js';
import { runDataPath, STEPS_PER_MODE } from './datapath.js';
import { runControlPlane } from './controlplane.js';
import { runLab, labUp, LAB_MODES } from './labbench.js';
import { cleanupBench } from './cleanup.js';
import { ratio } from './stats.js';
import { METRICS } from './metrics.js';
import type { BenchResults, Machine } from './results.js';
import { renderMarkdown } from './report.js';
import { programmingSvg, throughputSvg } from './svg.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function machine(): Machine {
  return {
    host: os.hostname().replace(/[^A-Za-z0-9.-]/g, '-'),
    nproc: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
  };
}

const today = () => new Date().toISOString().slice(0, 10);

function ratios(dp: BenchResults['dataPath']): BenchResults['ratios'] {
  const out: BenchResults['ratios'] = {};
  for (const [profile, byMetric] of Object.entries(dp)) {
    out[profile] = {};
    for (const m of METRICS) {
      const row = byMetric[m.key];
      out[profile]![m.key] = { kernel: ratio(row?.kernel?.median, row?.underlay?.median), bpf: ratio(row?.bpf?.median, row?.underlay?.median) };
    }
  }
  return out;
}

async function bench(o: BenchOptions, id: string, progress: Progress, state: { labs: boolean }): Promise<BenchResults> {
  const startedAt = new Date();
  const errors: string[] = [];
  const log = pino({ level: process.env.VXMESH_BENCH_LOG ?? 'silent' });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `vxm-bench-${id}-`));

  const topos = {} as Record<PathMode, BenchTopology>;
  for (const mode of PATH_MODES) {
    progress.step(`build ${mode} topology`);
    const t = (topos[mode] = new BenchTopology(id, mode, log));
    await t.build();
    await cleanSwitch(t.switchNs);
  }
  const dp = await runDataPath(topos, o, progress);
  errors.push(...dp.errors);
  for (const t of Object.values(topos)) await t.destroy();

  const cp = await runControlPlane(id, o, progress);
  for (const [mode, bySize] of Object.entries(cp.result)) {
    for (const [size, c] of Object.entries(bySize)) errors.push(...c.errors.map((e) => `control plane ${mode} ${size}: ${e}`));
  }

  let lab: BenchResults['lab'] = null;
  if (!o.skipLab) {
    state.labs = true;
    try {
      for (const mode of LAB_MODES) {
        progress.step(`lab up (${mode}, 3 nodes with real agents)`);
        await labUp(id, mode, tmp);
      }
      lab = await runLab(id, tmp, o, progress);
      for (const [mode, c] of Object.entries(lab)) errors.push(...c.errors.map((e) => `lab ${mode}: ${e}`));
    } catch (err) {
      errors.push(`lab: ${(err as Error).message}`);
      progress.note(`FAILED lab phase: ${(err as Error).message}`);
    }
  }
  fs.rmSync(tmp, { recursive: true, force: true });

  const finishedAt = new Date();
  return {
    version: 1,
    date: today(),
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationS: (finishedAt.getTime() - startedAt.getTime()) / 1000,
    machine: machine(),
    options: { quick: o.quick, runs: o.runs, seconds: o.seconds, sizes: o.sizes, profiles: o.profiles, k8sRules: o.k8sRules },
    dataPath: dp.summary,
    ratios: ratios(dp.summary),
    tunnelPath: dp.tunnelPath,
    controlPlane: cp.result,
    lab,
    errors,
    raw: { dataPath: dp.samples, controlPlane: cp.samples },
  };
}

export function writeOutputs(r: BenchResults, out: string): { base: string; markdown: string } {
  fs.mkdirSync(out, { recursive: true });
  const base = path.join(out, `${r.date}-${r.machine.host}`);
  const markdown = renderMarkdown(r);
  fs.writeFileSync(`${base}.json`, `${JSON.stringify(r, null, 2)}\n`);
  fs.writeFileSync(`${base}.md`, `${markdown}\n`);
  fs.writeFileSync(`${base}-throughput.svg`, `${throughputSvg(r)}\n`);
  fs.writeFileSync(`${base}-programming.svg`, `${programmingSvg(r)}\n`);
  return { base, markdown };
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2), path.join(REPO, 'bench/results'));
  if (o === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench: needs root (it creates network namespaces, mounts bpffs, loads TC programs)\n');
    return 1;
  }
  const id = randomBytes(2).toString('hex');
  const steps = PATH_MODES.length + o.profiles.length * o.runs * PATH_MODES.length * STEPS_PER_MODE + o.runs * o.sizes.length * 2 + (o.skipLab ? 0 : 2 + o.runs * 4);
  const progress = new Progress(steps);
  const state = { labs: false };
  let cleaning: Promise<void> | undefined;
  const cleanup = () => (cleaning ??= cleanupBench(id, state));
  const onSignal = (sig: NodeJS.Signals) => {
    process.stderr.write(`\nbench: ${sig}: removing everything this run created (id ${id})…\n`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  progress.note(`bench id ${id}: ${o.runs} run(s), ${o.seconds} s per measurement, sizes ${o.sizes.join(', ')}, profiles ${o.profiles.join(', ')}`);
  try {
    const r = await bench(o, id, progress, state);
    await cleanup();
    const { base, markdown } = writeOutputs(r, o.out);
    process.stdout.write(`${markdown}\n`);
    progress.note(`wrote ${base}.json, .md, -throughput.svg, -programming.svg in ${Math.round(r.durationS)} s`);
    return 0;
  } catch (err) {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? err}\n`);
    return 1;
  } finally {
    await cleanup();
  }
}

process.exitCode = await main();
