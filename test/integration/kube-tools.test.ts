/**
 * build/kube-tools.sh: the real control plane's binaries come from the official Go modules, cached by
 * version; a cached build is reused without building, and a version the module proxy does not serve is
 * an error naming the module.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseToolLines } from '../../src/controlplane/tools.js';

const SCRIPT = new URL('../../build/kube-tools.sh', import.meta.url).pathname;

describe('build/kube-tools.sh', () => {
  it('reuses the cached binaries (nothing rebuilt) and they are the pinned real versions', () => {
    spawnSync('bash', [SCRIPT], { stdio: 'inherit' }); // builds on a fresh machine (npm test has done it already)
    const r = spawnSync('bash', [SCRIPT, '--print'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).not.toContain('building');
    const t = parseToolLines(r.stdout);
    expect(execFileSync(t.kubeApiserver, ['--version'], { encoding: 'utf8' }).trim()).toBe(`Kubernetes ${t.kubeVersion}`);
    expect(execFileSync(t.etcd, ['--version'], { encoding: 'utf8' })).toContain(`etcd Version: ${t.etcdVersion.slice(1)}`);
    expect(t.helm, 'kube-tools.sh prints HELM=').toBeDefined();
    expect(execFileSync(t.helm!, ['version', '--short'], { encoding: 'utf8' }).trim()).toBe(t.helmVersion);
    expect(t.kubeApiserver.startsWith(path.resolve(new URL('../..', import.meta.url).pathname))).toBe(false);
  });

  it('names the module the proxy does not serve and builds nothing', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vxm-tools-'));
    try {
      const r = spawnSync('bash', [SCRIPT], { encoding: 'utf8', env: { ...process.env, VXMESH_TOOLS_DIR: dir, VXMESH_ETCD_VERSION: 'v3.6.999' } });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('the Go module proxy did not serve go.etcd.io/etcd/server/v3@v3.6.999');
      expect(spawnSync('ls', [path.join(dir, 'etcd-v3.6.999')], { encoding: 'utf8' }).stdout).not.toContain('etcd\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the helm module when the proxy does not serve the pinned version, and builds no helm', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vxm-tools-'));
    try {
      // The control plane's binaries from the real cache (so only helm is attempted), helm at a version nobody published.
      const real = parseToolLines(spawnSync('bash', [SCRIPT, '--print'], { encoding: 'utf8' }).stdout);
      symlinkSync(path.dirname(real.etcd), path.join(dir, `etcd-${real.etcdVersion}`));
      symlinkSync(path.dirname(real.kubeApiserver), path.join(dir, `kube-apiserver-${real.kubeVersion}`));
      const r = spawnSync('bash', [SCRIPT], { encoding: 'utf8', env: { ...process.env, VXMESH_TOOLS_DIR: dir, VXMESH_HELM_VERSION: 'v3.99.99' } });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('the Go module proxy did not serve helm.sh/helm/v3@v3.99.99');
      expect(spawnSync('ls', [path.join(dir, 'helm-v3.99.99')], { encoding: 'utf8' }).stdout).not.toContain('helm\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
