/**
 * The binaries of the real control plane (kube-apiserver, etcd), built from the official Go modules by
 * build/kube-tools.sh and cached by version outside the repo, and the directory of the upstream CRDs
 * (build/upstream-crds.sh, which kube-tools.sh runs), and helm for deploy/chart. The first call on a machine builds them
 * (minutes; the script prints progress on stderr); later calls only read the cache.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface KubeTools {
  kubeApiserver: string;
  kubeVersion: string;
  etcd: string;
  etcdVersion: string;
  /** Directory of the upstream CRDs vxmesh reads (build/upstream-crds.sh); absent in an older script's output. */
  upstreamCrds?: string;
  /** helm (helm.sh/helm/v3), for deploy/chart; absent in an older script's output. */
  helm?: string;
  helmVersion?: string;
}

export class KubeToolsError extends Error {
  override readonly name = 'KubeToolsError';
}

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../build/kube-tools.sh');

/** Pure: the NAME=VALUE lines of `kube-tools.sh --print`. */
export function parseToolLines(text: string): KubeTools {
  const v = new Map(text.split('\n').map((l) => l.trim()).filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
  const need = (k: string) => {
    const x = v.get(k);
    if (!x) throw new KubeToolsError(`build/kube-tools.sh printed no ${k}`);
    return x;
  };
  const upstreamCrds = v.get('UPSTREAM_CRDS');
  const helm = v.get('HELM');
  const helmVersion = v.get('HELM_VERSION');
  return {
    kubeApiserver: need('KUBE_APISERVER'), kubeVersion: need('KUBE_VERSION'), etcd: need('ETCD'), etcdVersion: need('ETCD_VERSION'),
    ...(upstreamCrds ? { upstreamCrds } : {}),
    ...(helm ? { helm } : {}),
    ...(helmVersion ? { helmVersion } : {}),
  };
}

let cached: KubeTools | undefined;

/** Builds what is missing (progress goes to this process's stderr) and returns the binaries' paths. */
export function kubeTools(): KubeTools {
  if (cached) return cached;
  const r = spawnSync('bash', [SCRIPT, '--print'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new KubeToolsError(`build/kube-tools.sh failed (exit ${r.status ?? r.signal}); its error is above`);
  cached = parseToolLines(r.stdout);
  return cached;
}
