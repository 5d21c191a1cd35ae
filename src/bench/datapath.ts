/**
 * The data-path phase: for each host profile, N runs; in each run every path mode (underlay, kernel, bpf)
 * is measured in a rotated order so machine noise hits them alike. A failed measurement is recorded as an
 * error and the run goes on.
 */
import type { BenchOptions } from './args.js';
import type { Progress } from './progress.js';
import { applyProfile, type Profile } from './profile.js';
import { rotate, summarize, type Summary } from './stats.js';
import { PATH_MODES, type BenchTopology, type PathMode } from './topo.js';
import { iperfTcp, iperfUdp64, sockperfRtt, sockperfTcpRr } from './traffic.js';
import { measureArp } from './arp.js';
import { METRICS, type MetricKey } from './metrics.js';

export type DataPathSamples = Record<string, Record<string, Record<string, number[]>>>; // profile -> metric -> mode -> values
export type DataPathResult = Record<string, Record<string, Record<string, Summary>>>;

export interface DataPathOutput {
  samples: DataPathSamples;
  summary: DataPathResult;
  /** Per profile: packets of the bpf topology per tunnel path during that profile's runs. */
  tunnelPath: Record<string, Record<string, number>>;
  errors: string[];
}

/** Measurements per (run, mode): for progress totals. */
export const STEPS_PER_MODE = 7;

export async function runDataPath(topos: Record<PathMode, BenchTopology>, o: BenchOptions, progress: Progress): Promise<DataPathOutput> {
  const samples: DataPathSamples = {};
  const tunnelPath: Record<string, Record<string, number>> = {};
  const errors: string[] = [];
  const nodeNamespaces = Object.values(topos).flatMap((t) => t.nodeNamespaces());
  for (const profile of o.profiles) {
    progress.note(`profile ${profile}: ${profile === 'k8s' ? `bridge-nf-call-iptables=1, ${o.k8sRules} FORWARD rules` : 'bridge-nf-call-iptables=0, no rules'} in ${nodeNamespaces.length} node namespaces`);
    await applyProfile(nodeNamespaces, profile as Profile, o.k8sRules);
    const ps: Record<string, Record<string, number[]>> = (samples[profile] = {});
    const put = (metric: MetricKey, mode: PathMode, v: number) => ((ps[metric] ??= {})[mode] ??= []).push(v);
    const pathsBefore: Record<string, number> = topos.bpf.tunnelPath();
    for (let i = 0; i < o.runs; i++) {
      for (const mode of rotate(PATH_MODES, i)) {
        const t = topos[mode];
        const at = `${profile} run ${i + 1}/${o.runs} ${mode}`;
        const measure = async (what: string, fn: () => Promise<unknown>) => {
          progress.step(`${at}: ${what}`);
          try {
            await fn();
          } catch (err) {
            errors.push(`${at}: ${what}: ${(err as Error).message}`);
            progress.note(`FAILED ${at}: ${what}: ${(err as Error).message}`);
          }
        };
        await measure('TCP cross-node 1 stream', async () => {
          const r = await iperfTcp(t.cross, 1, o.seconds);
          put('tcpCross1', mode, r.gbps);
          put('cpuCross1', mode, r.cpuSecPerGB);
        });
        await measure('TCP cross-node 4 streams', async () => {
          const r = await iperfTcp(t.cross, 4, o.seconds);
          put('tcpCross4', mode, r.gbps);
          put('cpuCross4', mode, r.cpuSecPerGB);
        });
        await measure('TCP same-node', async () => put('tcpSame', mode, (await iperfTcp(t.same, 1, o.seconds)).gbps));
        await measure('TCP to external', async () => put('tcpExt', mode, (await iperfTcp(t.external, 1, o.seconds)).gbps));
        await measure('UDP 64 B packet rate', async () => put('udp64Pps', mode, (await iperfUdp64(t.cross, o.seconds)).pps / 1000));
        await measure('TCP request/response', async () => put('tcpRr', mode, await sockperfTcpRr(t.cross, o.seconds)));
        await measure('sockperf ping-pong + ARP', async () => {
          const r = await sockperfRtt(t.cross, o.seconds);
          put('rttP50Us', mode, r.p50us);
          put('rttP99Us', mode, r.p99us);
          const a = await measureArp(t.arp, mode !== 'underlay', o.arpResolutions);
          put('arpResolveMs', mode, a.resolveMs);
          put('arpFrames', mode, a.framesPerResolution);
        });
      }
    }
    tunnelPath[profile] = Object.fromEntries(Object.entries(topos.bpf.tunnelPath() as Record<string, number>).map(([k, v]) => [k, v - (pathsBefore[k] ?? 0)]));
  }
  const summary: DataPathResult = {};
  for (const [profile, byMetric] of Object.entries(samples)) {
    summary[profile] = {};
    for (const m of METRICS) {
      summary[profile]![m.key] = Object.fromEntries(PATH_MODES.map((mode) => [mode, summarize(byMetric[m.key]?.[mode] ?? [])]));
    }
  }
  return { samples, summary, tunnelPath, errors };
}
