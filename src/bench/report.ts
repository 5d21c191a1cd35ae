/** The Markdown report: machine, then one table per section (median, [min–max], ratio to the underlay). */
import { METRICS } from './metrics.js';
import type { BenchResults } from './results.js';
import { sig, type Summary } from './stats.js';

const cell = (s: Summary | undefined, digits = 3) =>
  !s || !s.n ? 'n/a' : s.n === 1 ? sig(s.median, digits) : `${sig(s.median, digits)} [${sig(s.min, digits)}–${sig(s.max, digits)}]`;
const ratioCell = (r: number | null | undefined) => (r === null || r === undefined ? '' : ` (${r.toFixed(2)}×)`);

export function renderMarkdown(r: BenchResults): string {
  const m = r.machine;
  const out: string[] = [
    `# vxmesh bench ${r.date} on ${m.host}`,
    '',
    `Machine: ${m.nproc} CPUs (${m.cpuModel}), ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node}. ` +
      `${r.options.runs} run(s) per figure, ${r.options.seconds} s per measurement${r.options.quick ? ' (--quick: a harness check, not a measurement)' : ''}; ` +
      `median [min–max]; (×) = ratio of medians to the underlay in the same run. Total ${Math.round(r.durationS)} s.`,
    '',
  ];
  for (const [profile, byMetric] of Object.entries(r.dataPath)) {
    out.push(`## Data path, ${profile === 'k8s' ? `Kubernetes-like node (bridge-nf-call-iptables=1, ${r.options.k8sRules} FORWARD rules)` : 'clean node'}`, '');
    out.push('| figure | unit | underlay | kernel | bpf |', '|---|---|---:|---:|---:|');
    for (const mt of METRICS) {
      const row = byMetric[mt.key];
      const rat = r.ratios[profile]?.[mt.key];
      const noRatio = mt.key === 'arpFrames';
      out.push(`| ${mt.label} | ${mt.unit} | ${cell(row?.underlay)} | ${cell(row?.kernel)}${noRatio ? '' : ratioCell(rat?.kernel)} | ${cell(row?.bpf)}${noRatio ? '' : ratioCell(rat?.bpf)} |`);
    }
    out.push('', ...tunnelPathLines(r.tunnelPath?.[profile]));
  }
  out.push('## Control plane (one node, N remote endpoints, fresh process per sample)', '');
  out.push('| mode | endpoints | program all | apply one change | RSS after | peak RSS |', '|---|---:|---:|---:|---:|---:|');
  for (const [mode, bySize] of Object.entries(r.controlPlane)) {
    for (const [size, c] of Object.entries(bySize)) {
      const err = c.errors.length ? ` — **failed**: ${c.errors.join('; ').slice(0, 160)}` : '';
      out.push(`| ${mode} | ${Number(size).toLocaleString('en-US')} | ${cell(c.programMs)} ms${err} | ${cell(c.changeMs)} ms | ${cell(c.rssMB)} MB | ${cell(c.peakRssMB)} MB |`);
    }
  }
  out.push('');
  if (r.lab) {
    out.push('## Lab: live migration and agent restart (real agents, 10 ms ping)', '');
    out.push('| mode | migration: status change → traffic on the new node | packets lost (migration) | packets lost (agent restart) | restart until ready |', '|---|---:|---:|---:|---:|');
    for (const [mode, c] of Object.entries(r.lab)) {
      out.push(`| ${mode} | ${cell(c.convergenceMs)} ms | ${cell(c.migrationLost)} | ${cell(c.restartLost)} | ${cell(c.restartMs)} ms |`);
    }
    out.push('');
  }
  if (r.errors.length) out.push('## Errors', '', ...r.errors.map((e) => `- ${e}`), '');
  return out.join('\n');
}

/** Which way the bpf topology's tunnelled packets went during a profile's runs (native in TC or through vxe0). */
function tunnelPathLines(p: Record<string, number> | undefined): string[] {
  if (!p) return [];
  const share = (n: number, f: number) => (n + f > 0 ? `${((100 * n) / (n + f)).toFixed(1)}% native` : 'none');
  const en = p['encap-native'] ?? 0;
  const ef = p['encap-fallback'] ?? 0;
  const dn = p['decap-native'] ?? 0;
  const df = p['decap-fallback'] ?? 0;
  return [
    `bpf tunnel path (packets, all nodes): encapsulation ${en} native / ${ef} through vxe0 (${share(en, ef)}); ` +
      `decapsulation ${dn} native / ${df} through vxe0 (${share(dn, df)}; GRO-merged packets take vxe0 by design).`,
    '',
  ];
}
