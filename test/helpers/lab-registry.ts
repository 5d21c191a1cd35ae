/**
 * Test labs are registered while they exist, so that they are removed even when a test run cannot do it
 * itself: `vxmesh lab down` failing (e.g. the build being replaced under a running suite), a failed or
 * interrupted test file, a killed vitest. The global teardown (and the next run's setup) removes every
 * registered lab with `lab down`'s own code in-process, without needing the built CLI. Only labs this suite created are touched, never a
 * user's `npm run lab`. The registry is machine-wide, and other test runs start and end while a lab is in
 * use (unit tests take no lock): a lab is swept only once the process that registered it is gone.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { labDown } from '../../src/lab/down.js';

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

/** Whether the test process that registered lab `name` still runs (then the lab is in use). */
function registrantAlive(name: string): boolean {
  let pid = 0;
  try { pid = Number(readFileSync(path.join(REGISTRY, name), 'utf8').trim()); } catch { return false; }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Every registered lab whose test process is gone: removed and unregistered. */
export async function sweepTestLabs(): Promise<string[]> {
  let names: string[] = [];
  try { names = readdirSync(REGISTRY); } catch { return []; }
  const gone: string[] = [];
  for (const name of names.filter((n) => !registrantAlive(n))) {
    gone.push(...(await removeTestLab(name)));
    unregisterTestLab(name);
  }
  return gone;
}
