/**
 * A small hand-written Prometheus registry, still used by the controller's /metrics only: the agent's
 * metrics are on prom-client (agent.ts). Once the controller moves to prom-client too, this file goes.
 * Counters, gauges and histograms with labels, rendered in the text exposition format 0.0.4; collectors
 * run at scrape time for values read elsewhere.
 */
type Labels = Record<string, string | number>;

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  render(): string[];
}

export class Registry {
  private readonly families: Family[] = [];
  private readonly collectors: Array<() => void | Promise<void>> = [];

  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help));
  }

  gauge(name: string, help: string): Gauge {
    return this.add(new Gauge(name, help));
  }

  histogram(name: string, help: string, buckets = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5]): Histogram {
    return this.add(new Histogram(name, help, buckets));
  }

  /** Runs before every render: set gauges/counters from outside state. */
  collect(fn: () => void | Promise<void>): void {
    this.collectors.push(fn);
  }

  async render(): Promise<string> {
    for (const c of this.collectors) await c();
    const lines: string[] = [];
    for (const f of this.families) {
      lines.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${f.name} ${f.type}`, ...f.render());
    }
    return `${lines.join('\n')}\n`;
  }

  private add<T extends Family>(f: T): T {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(f.name)) throw new Error(`invalid metric name ${f.name}`);
    if (this.families.some((x) => x.name === f.name)) throw new Error(`metric ${f.name} registered twice`);
    this.families.push(f);
    return f;
  }
}

export function formatLabels(labels: Labels = {}): string {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  if (!entries.length) return '';
  return `{${entries.map(([k, v]) => `${k}="${String(v).replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')}"`).join(',')}}`;
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

class Counter implements Family {
  protected readonly values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string, readonly type: 'counter' | 'gauge' = 'counter') {}
  inc(labels: Labels = {}, by = 1): void {
    if (by < 0 && this.type === 'counter') throw new Error(`counter ${this.name} cannot decrease`);
    const k = formatLabels(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  /** The absolute value (gauges, or counters mirrored from elsewhere such as kernel maps). */
  set(labels: Labels, value: number): void {
    this.values.set(formatLabels(labels), value);
  }
  reset(): void {
    this.values.clear();
  }
  render(): string[] {
    return [...this.values].map(([k, v]) => `${this.name}${k} ${formatValue(v)}`);
  }
}

class Gauge extends Counter {
  constructor(name: string, help: string) {
    super(name, help, 'gauge');
  }
  dec(labels: Labels = {}, by = 1): void {
    this.inc(labels, -by);
  }
}

class Histogram implements Family {
  readonly type = 'histogram' as const;
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(readonly name: string, readonly help: string, private readonly buckets: number[]) {
    this.buckets = [...buckets].sort((a, b) => a - b);
  }
  observe(labels: Labels, value: number): void {
    const k = formatLabels(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    this.buckets.forEach((b, i) => {
      if (value <= b) s!.counts[i]!++;
    });
    s.sum += value;
    s.count++;
  }
  render(): string[] {
    const out: string[] = [];
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${formatLabels({ ...s.labels, le: formatValue(b) })} ${s.counts[i]}`));
      out.push(`${this.name}_bucket${formatLabels({ ...s.labels, le: '+Inf' })} ${s.count}`);
      out.push(`${this.name}_sum${formatLabels(s.labels)} ${formatValue(s.sum)}`, `${this.name}_count${formatLabels(s.labels)} ${s.count}`);
    }
    return out;
  }
}

export type { Counter, Gauge, Histogram };
