/** Pure helpers: summaries of repeated figures, ratios, run-order rotation. */

export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
  values: number[];
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median/min/max of the finite values (NaN/null dropped; an all-missing series gives n = 0 and NaN). */
export function summarize(values: Array<number | null | undefined>): Summary {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  return { median: median(v), min: v.length ? Math.min(...v) : NaN, max: v.length ? Math.max(...v) : NaN, n: v.length, values: v };
}

/** a / b, or null when either is missing or b is 0. */
export function ratio(a: number | undefined, b: number | undefined): number | null {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null;
  return a / b;
}

/** The list rotated by `i` (so run i starts with a different mode and noise hits every mode alike). */
export function rotate<T>(list: readonly T[], i: number): T[] {
  const k = ((i % list.length) + list.length) % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

/** Rounds to `digits` significant digits (for tables). */
export function sig(x: number, digits = 3): string {
  if (!Number.isFinite(x)) return '–';
  if (x === 0) return '0';
  const abs = Math.abs(x);
  if (abs >= 10 ** digits) return Math.round(x).toLocaleString('en-US');
  return Number(x.toPrecision(digits)).toString();
}
