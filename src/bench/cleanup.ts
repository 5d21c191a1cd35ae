/**
 * Removing everything one bench run created, whatever state it is in: the labs (lab down), the data-path
 * and control-plane namespaces (`vxm-b<id>…`, `vxmr-b<id>…`) with whatever runs inside, and the bpffs
 * mounts under /run/vxmesh-bench/<id>. Idempotent; safe to call from a signal handler.
 */
import fs from 'node:fs';
import { run } from '../util/exec.js';
import { destroyNamespaces } from '../lab/topology.js';
import { bpffsRoot } from './topo.js';
import { labDown, labName, LAB_MODES } from './labbench.js';

export function benchPrefixes(id: string): string[] {
  return ['u', 'k', 'b', 'c'].flatMap((m) => [`vxm-b${id}${m}`, `vxmr-b${id}${m}`]);
}

async function unmountUnder(dir: string): Promise<void> {
  const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m === dir || m.startsWith(`${dir}/`));
  for (const m of mounts.sort().reverse()) await run(['umount', '-l', m], { allowFailure: true });
}

export async function cleanupBench(id: string, opts: { labs: boolean }): Promise<void> {
  if (opts.labs) for (const mode of LAB_MODES) await labDown(labName(id, mode)).catch(() => undefined);
  await destroyNamespaces(benchPrefixes(id)).catch(() => undefined);
  const dir = bpffsRoot(id);
  await unmountUnder(dir).catch(() => undefined);
  fs.rmSync(dir, { recursive: true, force: true });
}
