/** The bench's raw result document (bench/results/<date>-<host>.json). */
import type { DataPathResult, DataPathSamples } from './datapath.js';
import type { CpResult } from './controlplane.js';
import type { CpSample } from './cp-worker.js';
import type { LabResult } from './labbench.js';

export interface Machine {
  host: string;
  nproc: number;
  memoryGiB: number;
  kernel: string;
  cpuModel: string;
  node: string;
}

export interface BenchResults {
  version: 1;
  date: string;
  startedAt: string;
  finishedAt: string;
  durationS: number;
  machine: Machine;
  options: { quick: boolean; runs: number; seconds: number; sizes: number[]; profiles: string[]; k8sRules: number };
  dataPath: DataPathResult;
  /** Median of each mode divided by the median of the underlay, per profile and metric. */
  ratios: Record<string, Record<string, Record<string, number | null>>>;
  /** Per profile: bpf packets per tunnel path (encap/decap, native or through vxe0) during its runs. */
  tunnelPath?: Record<string, Record<string, number>>;
  controlPlane: CpResult;
  lab: LabResult | null;
  errors: string[];
  raw: { dataPath: DataPathSamples; controlPlane: CpSample[] };
}
