/**
 * Real control planes for tests (etcd + kube-apiserver, src/controlplane), registered by living under one
 * directory: the global teardown (and the next run's setup) stops whatever a failed or killed test file
 * left running there.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ControlPlane, type ControlPlaneOptions } from '../../src/controlplane/control-plane.js';
import { isAlive } from '../../src/lab/processes.js';

export const CONTROL_PLANES = '/run/vxmesh-tests/control-planes';

export async function startTestControlPlane(opts: Omit<ControlPlaneOptions, 'dir'> = {}): Promise<ControlPlane> {
  mkdirSync(CONTROL_PLANES, { recursive: true });
  return ControlPlane.start({ ...opts, dir: path.join(CONTROL_PLANES, `cp-${process.pid}-${randomBytes(3).toString('hex')}`) });
}

/** Pure: the pid of the test process that started the control plane in directory `name`. */
export const ownerPid = (name: string): number => Number(/^cp-(\d+)-/.exec(name)?.[1] ?? 0);

/**
 * Stops and removes every control plane under CONTROL_PLANES whose test process is gone (another vitest
 * run on the machine keeps its own); returns how many there were.
 */
export async function sweepTestControlPlanes(): Promise<number> {
  let dirs: string[] = [];
  try { dirs = readdirSync(CONTROL_PLANES).filter((d) => !isAlive(ownerPid(d))); } catch { return 0; }
  for (const d of dirs) {
    const dir = path.join(CONTROL_PLANES, d);
    try {
      await ControlPlane.attach(dir).stop();
    } catch {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return dirs.length;
}
