/**
 * Whether the control plane's binaries are already built on this machine, without building anything:
 * callers (the lab) say "building … (first use)" before kubeTools() starts a build of several minutes.
 * build/kube-tools.sh --missing answers, so the versions and the cache layout stay in that one script.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeToolsError } from './tools.js';

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../build/kube-tools.sh');

export interface MissingTool {
  name: string;
  version: string;
}

/** Pure: the "NAME VERSION" lines of `kube-tools.sh --missing`. */
export function parseMissing(text: string): MissingTool[] {
  return text.split('\n').map((l) => l.trim().split(/\s+/)).filter((w) => w.length === 2).map(([name, version]) => ({ name: name!, version: version! }));
}

/** The control plane's binaries not built yet (kubeTools() would build them); `env` as the script sees it. */
export function missingKubeTools(env: NodeJS.ProcessEnv = process.env): MissingTool[] {
  const r = spawnSync('bash', [SCRIPT, '--missing'], { encoding: 'utf8', env });
  if (r.status !== 0) throw new KubeToolsError(`build/kube-tools.sh --missing failed (exit ${r.status ?? r.signal}): ${r.stderr.trim()}`);
  return parseMissing(r.stdout);
}
