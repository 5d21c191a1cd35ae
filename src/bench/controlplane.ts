/** The control-plane phase: each (run, size, mode) in a fresh worker process, modes rotated per run. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../util/exec.js';
import type { BenchOptions } from './args.js';
import type { Progress } from './progress.js';
import { rotate, summarize, type Summary } from './stats.js';
import type { CpSample } from './cp-worker.js';

export const CP_MODES = ['kernel', 'bpf'] as const;

export interface CpCell {
  programMs: Summary;
  changeMs: Summary;
  rssMB: Summary;
  peakRssMB: Summary;
  errors: string[];
}
/** mode -> size -> cell */
export type CpResult = Record<string, Record<string, CpCell>>;

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'cp-worker.js');

export async function runControlPlane(id: string, o: BenchOptions, progress: Progress): Promise<{ result: CpResult; samples: CpSample[] }> {
  const samples: CpSample[] = [];
  for (let i = 0; i < o.runs; i++) {
    for (const size of o.sizes) {
      for (const mode of rotate(CP_MODES, i)) {
        progress.step(`control plane run ${i + 1}/${o.runs}: ${mode}, ${size} endpoints`);
        const r = await run([process.execPath, WORKER, '--mode', mode, '--size', String(size), '--id', id], { allowFailure: true, timeoutMs: 900_000 });
        const line = r.stdout.trim().split('\n').pop() ?? '';
        let s: CpSample;
        try {
          s = JSON.parse(line) as CpSample;
        } catch {
          s = { mode, size, programMs: NaN, changeMs: NaN, changes: 0, rssMB: NaN, peakRssMB: NaN, error: `worker exit ${r.exitCode}: ${(r.stderr || r.stdout).slice(-300)}` };
        }
        if (s.error) progress.note(`control plane ${mode} ${size}: ${s.error}`);
        samples.push(s);
      }
    }
  }
  const result: CpResult = {};
  for (const mode of CP_MODES) {
    result[mode] = {};
    for (const size of o.sizes) {
      const mine = samples.filter((s) => s.mode === mode && s.size === size);
      // A sample with an error did not program everything: its times are not comparable.
      const ok = mine.filter((s) => !s.error);
      result[mode]![String(size)] = {
        programMs: summarize(ok.map((s) => s.programMs)),
        changeMs: summarize(ok.map((s) => s.changeMs)),
        rssMB: summarize(ok.map((s) => s.rssMB)),
        peakRssMB: summarize(ok.map((s) => s.peakRssMB)),
        errors: [...new Set(mine.flatMap((s) => (s.error ? [s.error] : [])))],
      };
    }
  }
  return { result, samples };
}
