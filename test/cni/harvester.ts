/**
 * Runs Harvester's own NAD admission and labelling code (build/harvester-nad/main.go, built from the
 * github.com/harvester/harvester-network-controller module by build/harvester-tools.sh) on NADs.
 */
import { spawnSync } from 'node:child_process';

const SCRIPT = new URL('../../build/harvester-tools.sh', import.meta.url).pathname;

export interface HarvesterTool {
  bin: string;
  version: string;
}

/** Builds the tool if missing (cached outside the repo) and returns where it is. */
export function harvesterTool(): HarvesterTool {
  const r = spawnSync('bash', [SCRIPT, '--print'], { encoding: 'utf8', timeout: 900_000 });
  if (r.status !== 0) throw new Error(`build/harvester-tools.sh failed:\n${r.stderr}`);
  const v = Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split('=', 2) as [string, string]));
  return { bin: v.HARVESTER_NAD!, version: v.HARVESTER_NC_VERSION! };
}

export interface Admitted {
  allowed: boolean;
  error?: string;
  patch?: Array<{ op: string; path: string; value: unknown }>;
  stored?: { metadata: { name: string; namespace: string; labels?: Record<string, string> }; spec: { config: string } };
}

export interface Verdict {
  op: string;
  admission?: Admitted;
  controller?: { clusterNetwork?: string; networkType?: string; labels?: Record<string, string>; error?: string; update?: Admitted; vlanSet?: string; vlanSetError?: string };
  mtuSync?: Admitted[];
}

export type Step = { op: 'create' | 'update'; nad: unknown } | { op: 'cn-mtu'; clusterNetwork: string; mtu: number };

export interface HarvesterCluster {
  clusterNetworks: unknown[];
  vlanConfigs?: unknown[];
}

/** A ready Harvester ClusterNetwork with the uplink MTU annotation its VlanConfig controller sets. */
export const clusterNetwork = (name: string, uplinkMtu?: number) => ({
  apiVersion: 'network.harvesterhci.io/v1beta1',
  kind: 'ClusterNetwork',
  metadata: { name, ...(uplinkMtu ? { annotations: { 'network.harvesterhci.io/uplink-mtu': String(uplinkMtu) } } : {}) },
  status: { conditions: [{ type: 'ready', status: 'True' }] },
});

export function runHarvester(tool: HarvesterTool, cluster: HarvesterCluster, steps: Step[]): Verdict[] {
  const r = spawnSync(tool.bin, [], { input: JSON.stringify({ ...cluster, steps }), encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`harvester-nad failed (exit ${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Verdict[];
}
