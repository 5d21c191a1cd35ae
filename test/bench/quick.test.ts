/**
 * Smoke test of the benchmark harness: `node dist/bench/main.js --quick --out DIR` must produce a results
 * JSON with a number in every section, the Markdown report and both SVG charts, and leave no namespace
 * behind. It checks that the harness works, not how fast anything is.
 */
import { describe, it, expect, afterAll } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { run } from '../../src/util/exec.js';
import { netnsList } from '../../src/lab/topology.js';
import { METRICS } from '../../src/bench/metrics.js';
import type { BenchResults } from '../../src/bench/results.js';

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const MAIN = path.join(REPO, 'dist/bench/main.js');
const out = mkdtempSync(path.join(tmpdir(), 'vxm-bench-test-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const isNum = (x: unknown) => typeof x === 'number' && Number.isFinite(x);

describe('npm run bench -- --quick', () => {
  it('measures every section in both modes and both profiles, writes JSON, Markdown and SVG charts, and cleans up', async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npm run build:ts, or npm test which runs setup)`);
    const before = new Set(await netnsList());
    const t0 = Date.now();
    const r = await run([process.execPath, MAIN, '--quick', '--out', out], { allowFailure: true, timeoutMs: 280_000 });
    const elapsed = (Date.now() - t0) / 1000;
    expect(r.exitCode, `bench failed:\n${r.stderr.slice(-3000)}`).toBe(0);
    expect(r.stderr).toMatch(/\[bench \d+\/\d+ \d\d:\d\d\] /); // progress lines
    expect(elapsed).toBeLessThan(180);

    const files = readdirSync(out);
    const json = files.find((f) => f.endsWith('.json'));
    expect(json, `files: ${files.join(', ')}`).toBeDefined();
    const base = json!.replace(/\.json$/, '');
    for (const suffix of ['.md', '-throughput.svg', '-programming.svg']) expect(files).toContain(`${base}${suffix}`);
    const res = JSON.parse(readFileSync(path.join(out, json!), 'utf8')) as BenchResults;

    expect(res.machine.nproc).toBeGreaterThan(0);
    expect(res.machine.kernel).toBeTruthy();
    for (const profile of ['clean', 'k8s']) {
      for (const m of METRICS) {
        for (const mode of ['underlay', 'kernel', 'bpf']) {
          const s = res.dataPath[profile]?.[m.key]?.[mode];
          expect(s?.n, `${profile} ${m.key} ${mode}`).toBeGreaterThan(0);
          expect(isNum(s!.median), `${profile} ${m.key} ${mode}`).toBe(true);
        }
        if (m.key !== 'arpFrames') for (const mode of ['kernel', 'bpf']) expect(isNum(res.ratios[profile]?.[m.key]?.[mode]), `ratio ${profile} ${m.key} ${mode}`).toBe(true);
      }
      // No ARP frame crosses the underlay in either mode; the underlay baseline needs a request and a reply.
      expect(res.dataPath[profile]!.arpFrames!.kernel!.median).toBe(0);
      expect(res.dataPath[profile]!.arpFrames!.bpf!.median).toBe(0);
      expect(res.dataPath[profile]!.arpFrames!.underlay!.median).toBeGreaterThanOrEqual(1);
    }
    for (const mode of ['kernel', 'bpf']) {
      const c = res.controlPlane[mode]?.['1000'];
      expect(c?.errors, `control plane ${mode}`).toEqual([]);
      for (const k of ['programMs', 'changeMs', 'rssMB'] as const) expect(isNum(c![k].median), `${mode} ${k}`).toBe(true);
      const l = res.lab?.[mode];
      expect(l?.errors, `lab ${mode}`).toEqual([]);
      for (const k of ['convergenceMs', 'migrationLost', 'restartLost', 'restartMs'] as const) expect(isNum(l![k].median), `lab ${mode} ${k}`).toBe(true);
    }
    expect(res.errors).toEqual([]);
    // the bpf topology's tunnelled traffic went the native way in both directions, and the report says how much
    for (const profile of res.options.profiles) {
      expect(res.tunnelPath?.[profile]?.['encap-native'], `${profile} encap-native`).toBeGreaterThan(0);
      expect(res.tunnelPath?.[profile]?.['decap-native'], `${profile} decap-native`).toBeGreaterThan(0);
    }

    const md = readFileSync(path.join(out, `${base}.md`), 'utf8');
    expect(md).toMatch(/bpf tunnel path \(packets, all nodes\): encapsulation \d+ native/);
    expect(md).toContain('| TCP cross-node, 1 stream | Gbit/s |');
    expect(md).toContain('## Control plane');
    expect(md).toContain('## Lab: live migration');
    expect(r.stdout).toContain('## Data path, clean node'); // the table is printed too
    for (const svg of ['-throughput.svg', '-programming.svg']) {
      const text = readFileSync(path.join(out, `${base}${svg}`), 'utf8');
      expect(text).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      expect(text).toMatch(/<(rect|circle) [^>]*fill="#3b7dd8"/); // a bpf bar / point
    }

    // Everything it created is gone.
    const left = (await netnsList()).filter((n) => !before.has(n) && /^vxmr?-b/.test(n));
    expect(left).toEqual([]);
  }, 300_000);
});
