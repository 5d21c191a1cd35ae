/**
 * The lab phase: one real lab per mode (`vxmesh lab up`, real agent processes per node namespace), both up
 * at once so runs interleave. Migration: a 10 ms ping from vm-b (node 2) to vm-a while `migrateVm` (the
 * code behind `vxmesh lab migrate`) moves vm-a between node 1 and node 3; convergence = first reply after
 * the last lost packet minus the moment the VMI status changed (the cluster file's mtime), loss = lost
 * replies. Agent restart: the same ping while vm-a's node's agent restarts (`lab restart`).
 */
import { statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../util/exec.js';
import { migrateVm, restartAgent } from '../lab/ops.js';
import { labPaths, readLabState, type LabState } from '../lab/state.js';
import type { BenchOptions } from './args.js';
import type { Progress } from './progress.js';
import { applyProfile } from './profile.js';
import { rotate, summarize, type Summary } from './stats.js';
import { parsePingLog, type PingLog } from './ping.js';

export const LAB_MODES = ['kernel', 'bpf'] as const;
const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '../cli/main.js');
const PING_INTERVAL_S = 0.01;

export interface LabCell {
  convergenceMs: Summary;
  migrationLost: Summary;
  restartLost: Summary;
  restartMs: Summary;
  errors: string[];
}
export type LabResult = Record<string, LabCell>;

export const labName = (id: string, mode: string) => `b${mode[0]}${id}`;

export function labYaml(name: string, mode: string): string {
  const vmi = (vm: string, mac: string, node: string) => `---
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstance
metadata: {name: ${vm}, namespace: bench}
spec:
  domain: {devices: {interfaces: [{name: nic1, bridge: {}, macAddress: "${mac}"}]}}
  networks: [{name: nic1, multus: {networkName: bench/net}}]
status: {nodeName: ${name}n${node}}
`;
  return `apiVersion: network.vxmesh.io/v1alpha1
kind: Lab
metadata: {name: ${name}}
spec:
  mode: ${mode}
  external: false
  nodes: [{name: ${name}n1}, {name: ${name}n2}, {name: ${name}n3}]
---
apiVersion: network.harvesterhci.io/v1beta1
kind: ClusterNetwork
metadata: {name: overlay}
---
apiVersion: network.vxmesh.io/v1alpha1
kind: VxlanConfig
metadata: {name: overlay-all}
spec:
  clusterNetwork: overlay
  nodeSelector: {}
  uplink: {nics: [vxmu0], linkAttributes: {mtu: 1500}}
  port: 4789
  vtep: {addressFrom: uplink}
---
apiVersion: network.vxmesh.io/v1alpha1
kind: VxlanNetwork
metadata: {name: net, namespace: bench}
spec: {clusterNetwork: overlay, vni: 300, cidr: 10.30.0.0/24, natOutgoing: true}
${vmi('vm-a', '02:00:0a:1e:00:0a', '1')}${vmi('vm-b', '02:00:0a:1e:00:0b', '2')}`;
}

export async function labUp(id: string, mode: string, dir: string): Promise<LabState> {
  const name = labName(id, mode);
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(file, labYaml(name, mode));
  const r = await run([process.execPath, CLI, 'lab', 'up', '-f', file, '--mode', mode], { allowFailure: true, timeoutMs: 240_000 });
  if (r.exitCode !== 0) throw new Error(`lab up ${name} (${mode}) failed (exit ${r.exitCode}): ${(r.stderr || r.stdout).slice(-800)}`);
  const s = await readLabState(name);
  if (!s) throw new Error(`lab ${name} has no state after lab up`);
  await applyProfile(s.nodes.map((n) => n.netns), 'clean', 0);
  return s;
}

export async function labDown(name: string): Promise<void> {
  await run([process.execPath, CLI, 'lab', 'down', '--lab', name], { allowFailure: true, timeoutMs: 120_000 });
}

/** A 10 ms ping from vm-b to vm-a for `seconds`, with `action` started 0.5 s in. */
async function pingDuring(s: LabState, seconds: number, action: () => Promise<void>): Promise<PingLog> {
  const a = s.vms.find((v) => v.name === 'vm-a')!;
  const b = s.vms.find((v) => v.name === 'vm-b')!;
  const count = Math.round(seconds / PING_INTERVAL_S);
  const ping = run(['ping', '-D', '-O', '-n', '-i', String(PING_INTERVAL_S), '-W', '1', '-c', String(count), a.interfaces[0]!.ip], { netns: b.netns, allowFailure: true, timeoutMs: (seconds + 30) * 1000 });
  await new Promise((r) => setTimeout(r, 500));
  let failure: unknown;
  await action().catch((e) => (failure = e));
  const out = await ping;
  if (failure) throw failure;
  return parsePingLog(out.stdout);
}

export async function runLab(id: string, dir: string, o: BenchOptions, progress: Progress): Promise<LabResult> {
  const conv: Record<string, number[]> = { kernel: [], bpf: [] };
  const mlost: Record<string, number[]> = { kernel: [], bpf: [] };
  const rlost: Record<string, number[]> = { kernel: [], bpf: [] };
  const rms: Record<string, number[]> = { kernel: [], bpf: [] };
  const errors: Record<string, string[]> = { kernel: [], bpf: [] };
  const window = o.quick ? 3 : 4;
  for (let i = 0; i < o.runs; i++) {
    for (const mode of rotate(LAB_MODES, i)) {
      const name = labName(id, mode);
      progress.step(`lab run ${i + 1}/${o.runs} ${mode}: migrate vm-a (10 ms ping from vm-b)`);
      try {
        const s = (await readLabState(name))!;
        const vmA = s.vms.find((v) => v.name === 'vm-a')!;
        const to = vmA.node === `${name}n1` ? `${name}n3` : `${name}n1`;
        const log = await pingDuring(s, window, async () => void (await migrateVm(s, 'vm-a', to)));
        const statusAt = statSync(labPaths(name).cluster).mtimeMs / 1000;
        const c = log.convergedAfter(statusAt);
        if (c === null) throw new Error('no reply after the migration');
        conv[mode]!.push(c * 1000);
        mlost[mode]!.push(log.lost);
      } catch (err) {
        errors[mode]!.push(`migration: ${(err as Error).message}`);
        progress.note(`FAILED lab ${mode} migration: ${(err as Error).message}`);
      }
      progress.step(`lab run ${i + 1}/${o.runs} ${mode}: restart vm-a's agent (10 ms ping from vm-b)`);
      try {
        const s = (await readLabState(name))!;
        const node = s.vms.find((v) => v.name === 'vm-a')!.node;
        let ms = NaN;
        const log = await pingDuring(s, window, async () => {
          const t0 = Date.now();
          await restartAgent(s, node);
          ms = Date.now() - t0;
        });
        rlost[mode]!.push(log.lost);
        rms[mode]!.push(ms);
      } catch (err) {
        errors[mode]!.push(`restart: ${(err as Error).message}`);
        progress.note(`FAILED lab ${mode} restart: ${(err as Error).message}`);
      }
    }
  }
  return Object.fromEntries(LAB_MODES.map((m) => [m, {
    convergenceMs: summarize(conv[m]!), migrationLost: summarize(mlost[m]!), restartLost: summarize(rlost[m]!), restartMs: summarize(rms[m]!), errors: errors[m]!,
  }]));
}
