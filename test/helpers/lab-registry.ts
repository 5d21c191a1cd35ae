/**
 * Test labs are registered while they exist, so that they are removed even when a test run cannot do it
 * itself: `vxmesh lab down` failing (e.g. the build being replaced under a running suite), a failed or
 * interrupted test file, a killed vitest. The global teardown (and the next run's setup) removes every
 * registered lab with `lab down`'s own code in-process, without needing the built CLI. Only labs this suite created are touched, never a
 * user's `npm run lab`. The registry is machine-wide, and other test runs start and end while a lab is in
 * use (unit tests take no lock): a lab is swept only once the process that registered it is gone.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { labDown } from '../../src/lab/down.js';
import { isAlive } from '../../src/lab/processes.js';

export const REGISTRY = '/run/vxmesh-tests/labs';

export function registerTestLab(name: string): void {
  mkdirSync(REGISTRY, { recursive: true });
  writeFileSync(path.join(REGISTRY, name), `${process.pid}\n`);
}

export function unregisterTestLab(name: string): void {
  rmSync(path.join(REGISTRY, name), { force: true });
}

/**
 * Removes what a lab left behind, in-process with the CLI's own `lab down` (no built CLI needed); test labs
 * name their nodes `<lab>n1..n9`, so their router namespaces go even when lab.json is lost.
 */
export function removeTestLab(name: string): Promise<string[]> {
  return labDown(name, Array.from({ length: 9 }, (_, i) => `${name}n${i + 1}`));
}

/** The test process that registered lab `name` (0 when unknown). */
function ownerOf(name: string): number {
  try {
    return Number(readFileSync(path.join(REGISTRY, name), 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

/**
 * Every registered lab whose test process is gone: removed and unregistered. A lab of a test still
 * running (another vitest on the machine) is left alone.
 */
export async function sweepTestLabs(): Promise<string[]> {
  let names: string[] = [];
  try { names = readdirSync(REGISTRY).filter((n) => !isAlive(ownerOf(n))); } catch { return []; }
  const gone: string[] = [];
  for (const name of names) {
    gone.push(...(await removeTestLab(name)));
    unregisterTestLab(name);
  }
  return gone;
}
