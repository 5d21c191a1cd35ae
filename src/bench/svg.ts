/** Two small hand-written SVG charts: throughput by mode and profile (bars with min–max whiskers) and control-plane programming time vs entries (log–log). */
import type { BenchResults } from './results.js';
import type { Summary } from './stats.js';

const COLORS: Record<string, string> = { underlay: '#8c8c8c', kernel: '#e07b39', bpf: '#3b7dd8' };
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const text = (x: number, y: number, s: string, attrs = '') => `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${esc(s)}</text>`;
const FONT = 'font-family="sans-serif" font-size="12"';

/** A "nice" upper bound for a linear axis. */
export function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

const THROUGHPUT = [
  ['tcpCross1', 'cross-node 1 stream'],
  ['tcpCross4', 'cross-node 4 streams'],
  ['tcpSame', 'same node'],
  ['tcpExt', 'to external (NAT)'],
] as const;

export function throughputSvg(r: BenchResults): string {
  const profiles = Object.keys(r.dataPath);
  const modes = ['underlay', 'kernel', 'bpf'];
  const W = 820, H = 380, L = 60, R = 20, T = 50, B = 90;
  const groups = profiles.flatMap((p) => THROUGHPUT.map(([k, label]) => ({ p, k, label })));
  const cells = groups.flatMap((g) => modes.map((m) => r.dataPath[g.p]?.[g.k]?.[m])).filter((s): s is Summary => !!s && s.n > 0);
  const ymax = niceMax(Math.max(...cells.map((s) => s.max), 0.001));
  const gw = (W - L - R) / Math.max(groups.length, 1);
  const bw = (gw * 0.75) / modes.length;
  const y = (v: number) => T + (H - T - B) * (1 - v / ymax);
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT}>`, `<rect width="${W}" height="${H}" fill="white"/>`];
  parts.push(text(L, 20, `TCP throughput (Gbit/s, median, whiskers min–max) — ${r.machine.host}, ${r.date}`, 'font-size="14" font-weight="bold"'));
  for (let i = 0; i <= 5; i++) {
    const v = (ymax * i) / 5;
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`, text(L - 6, y(v) + 4, `${+v.toFixed(2)}`, 'text-anchor="end"'));
  }
  groups.forEach((g, gi) => {
    const x0 = L + gi * gw + gw * 0.125;
    modes.forEach((m, mi) => {
      const s = r.dataPath[g.p]?.[g.k]?.[m];
      if (!s || !s.n) return;
      const x = x0 + mi * bw;
      parts.push(`<rect x="${x.toFixed(1)}" y="${y(s.median).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${(y(0) - y(s.median)).toFixed(1)}" fill="${COLORS[m]}"><title>${esc(`${g.p} ${g.label} ${m}: ${s.median.toFixed(2)} Gbit/s`)}</title></rect>`);
      const cx = x + (bw - 2) / 2;
      parts.push(`<line x1="${cx}" x2="${cx}" y1="${y(s.min)}" y2="${y(s.max)}" stroke="black"/>`);
    });
    parts.push(text(x0 + (gw * 0.75) / 2, H - B + 16, g.label, 'text-anchor="middle" font-size="10"'));
  });
  profiles.forEach((p, pi) => {
    const x0 = L + pi * THROUGHPUT.length * gw;
    const xm = x0 + (THROUGHPUT.length * gw) / 2;
    parts.push(text(xm, H - B + 40, p === 'k8s' ? 'Kubernetes-like node' : 'clean node', 'text-anchor="middle" font-weight="bold"'));
    if (pi > 0) parts.push(`<line x1="${x0}" x2="${x0}" y1="${T}" y2="${H - B + 45}" stroke="#999" stroke-dasharray="4 3"/>`);
  });
  modes.forEach((m, i) => parts.push(`<rect x="${L + i * 110}" y="${H - 28}" width="12" height="12" fill="${COLORS[m]}"/>`, text(L + i * 110 + 18, H - 18, m)));
  parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(0)}" y2="${y(0)}" stroke="black"/>`, '</svg>');
  return parts.join('\n');
}

export function programmingSvg(r: BenchResults): string {
  const W = 560, H = 380, L = 70, R = 20, T = 50, B = 60;
  const modes = Object.keys(r.controlPlane);
  const sizes = [...new Set(modes.flatMap((m) => Object.keys(r.controlPlane[m]!).map(Number)))].sort((a, b) => a - b);
  const vals = modes.flatMap((m) => Object.values(r.controlPlane[m]!).map((c) => c.programMs)).filter((s) => s.n > 0);
  const lo = Math.log10(Math.max(1, Math.min(...vals.map((s) => s.min), 1e9)));
  const hi = Math.log10(Math.max(...vals.map((s) => s.max), 10));
  const yl = Math.floor(lo), yh = Math.max(Math.ceil(hi), yl + 1);
  const xl = Math.log10(Math.min(...sizes, 1000)), xh = Math.max(Math.log10(Math.max(...sizes, 1000)), xl + 1);
  const x = (n: number) => L + ((Math.log10(n) - xl) / (xh - xl)) * (W - L - R);
  const y = (ms: number) => T + (1 - (Math.log10(ms) - yl) / (yh - yl)) * (H - T - B);
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT}>`, `<rect width="${W}" height="${H}" fill="white"/>`];
  parts.push(text(L, 20, 'Time to program N endpoints (ms, log–log; × = failed)', 'font-size="14" font-weight="bold"'));
  for (let e = yl; e <= yh; e++) parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(10 ** e)}" y2="${y(10 ** e)}" stroke="#ddd"/>`, text(L - 6, y(10 ** e) + 4, `${10 ** e}`, 'text-anchor="end"'));
  for (const n of sizes) parts.push(`<line x1="${x(n)}" x2="${x(n)}" y1="${T}" y2="${H - B}" stroke="#eee"/>`, text(x(n), H - B + 16, n >= 1000 ? `${n / 1000}k` : `${n}`, 'text-anchor="middle"'));
  parts.push(text((L + W - R) / 2, H - B + 34, 'endpoints', 'text-anchor="middle"'));
  modes.forEach((m, mi) => {
    const pts = sizes.map((n) => ({ n, c: r.controlPlane[m]?.[String(n)] })).filter((p) => p.c);
    const ok = pts.filter((p) => p.c!.programMs.n > 0);
    if (ok.length > 1) parts.push(`<polyline fill="none" stroke="${COLORS[m]}" stroke-width="2" points="${ok.map((p) => `${x(p.n).toFixed(1)},${y(p.c!.programMs.median).toFixed(1)}`).join(' ')}"/>`);
    for (const p of ok) parts.push(`<circle cx="${x(p.n).toFixed(1)}" cy="${y(p.c!.programMs.median).toFixed(1)}" r="4" fill="${COLORS[m]}"><title>${esc(`${m} ${p.n}: ${p.c!.programMs.median.toFixed(0)} ms`)}</title></circle>`);
    for (const p of pts.filter((q) => q.c!.programMs.n === 0)) {
      const cx = x(p.n) + (mi ? 6 : -6);
      parts.push(text(cx, T + 12, '×', `text-anchor="middle" fill="${COLORS[m]}" font-size="16" font-weight="bold"`));
    }
    parts.push(`<rect x="${L + mi * 110}" y="${H - 22}" width="12" height="12" fill="${COLORS[m]}"/>`, text(L + mi * 110 + 18, H - 12, m));
  });
  parts.push(`<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="black"/>`, `<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="black"/>`, '</svg>');
  return parts.join('\n');
}
