/** `vxmesh bench` options: defaults for a full run (≤ 20 min on 2 cores) and for --quick (a smoke run). */
import { InvalidSpecError } from '../errors.js';

export interface BenchOptions {
  quick: boolean;
  /** Repetitions of every figure (median, min, max over them). */
  runs: number;
  /** Seconds per throughput / packet-rate / latency measurement. */
  seconds: number;
  /** Control-plane sizes (endpoints). */
  sizes: number[];
  /** Output directory (results JSON, Markdown, SVG charts). */
  out: string;
  /** Host profiles to measure. */
  profiles: Array<'clean' | 'k8s'>;
  /** iptables rules in FORWARD for the k8s profile. */
  k8sRules: number;
  /** ARP resolutions per run and mode. */
  arpResolutions: number;
  /** Skip the lab phase (migration, agent restart). */
  skipLab: boolean;
}

export const USAGE = `Usage: node dist/bench/main.js [--quick] [--runs N] [--seconds S] [--sizes 1000,10000,100000] [--out DIR] [--profiles clean,k8s] [--rules N] [--no-lab]

Measures the underlay, kernel mode and bpf mode side by side in namespaces it creates (vxm…), writes
<out>/<date>-<host>.json, .md and -throughput.svg / -programming.svg, and prints the table.
--quick: 1 run, 1 s per measurement, 1k endpoints (a smoke test of the harness, not a measurement).`;

function num(flag: string, v: string | undefined, min: number): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new InvalidSpecError({ kind: 'Flag', name: flag }, 'value', `must be a number ≥ ${min}, got ${v}`);
  return n;
}

export function parseArgs(argv: string[], defaultOut: string): BenchOptions | 'help' {
  const quick = argv.includes('--quick');
  const o: BenchOptions = {
    quick,
    runs: quick ? 1 : 5,
    seconds: quick ? 1 : 3,
    sizes: quick ? [1000] : [1000, 10_000, 30_000, 100_000],
    out: defaultOut,
    profiles: ['clean', 'k8s'],
    k8sRules: 3000,
    arpResolutions: quick ? 2 : 3,
    skipLab: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = () => argv[++i];
    switch (a) {
      case '--quick': break;
      case '--help': case '-h': return 'help';
      case '--runs': o.runs = num(a, next(), 1); break;
      case '--seconds': o.seconds = num(a, next(), 1); break;
      case '--rules': o.k8sRules = num(a, next(), 0); break;
      case '--sizes': o.sizes = (next() ?? '').split(',').map((s) => num(a, s, 1)); break;
      case '--out': o.out = next() ?? o.out; break;
      case '--no-lab': o.skipLab = true; break;
      case '--profiles': {
        const ps = (next() ?? '').split(',');
        if (!ps.every((p) => p === 'clean' || p === 'k8s')) throw new InvalidSpecError({ kind: 'Flag', name: a }, 'value', 'profiles are clean and k8s');
        o.profiles = ps as BenchOptions['profiles'];
        break;
      }
      default: throw new InvalidSpecError({ kind: 'Flag', name: a }, 'name', `unknown option (see --help)`);
    }
  }
  return o;
}
