/**
 * `kubectl apply -k deploy/` — the documented install — run with the real kubectl against the API-server
 * double (kubectl finds the kinds through the double's discovery). Proves that kustomize renders the
 * directory, that every object is accepted and stored as written, and that re-applying changes nothing.
 * Schema validation of the same manifests lives in deploy.test.ts (no OpenAPI document is served here,
 * hence --validate=false).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiServerDouble } from '../../src/testing/apiserver/index.js';
import { run } from '../../src/util/exec.js';
import { startDouble } from './helpers.js';

const DEPLOY = new URL('../../deploy/', import.meta.url).pathname;

describe('kubectl apply -k deploy/', () => {
  let api: ApiServerDouble;
  let dir: string;
  let kubeconfig: string;
  const kubectl = (...args: string[]) => run(['kubectl', '--kubeconfig', kubeconfig, ...args], { allowFailure: true, timeoutMs: 60_000 });

  beforeAll(async () => {
    ({ api } = await startDouble());
    dir = mkdtempSync(path.join(tmpdir(), 'vxm-kubectl-'));
    kubeconfig = path.join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, api.kubeconfig());
  });

  afterAll(async () => {
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates every object kustomize renders, stores it as written, and leaves it unchanged on re-apply', async () => {
    const rendered = await run(['kubectl', 'kustomize', DEPLOY]);
    const objects = YAML.parseAllDocuments(rendered.stdout).map((d) => d.toJS() as Record<string, any>).filter(Boolean);
    expect(objects.length).toBeGreaterThanOrEqual(17);

    const first = await kubectl('apply', '--validate=false', '-k', DEPLOY);
    expect(first.exitCode, first.stderr).toBe(0);
    const created = first.stdout.trim().split('\n');
    expect(created.every((l) => l.endsWith(' created')), first.stdout).toBe(true);
    expect(created).toHaveLength(objects.length);

    for (const o of objects) {
      const args = ['get', `${o.kind.toLowerCase()}.${o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : ''}`.replace(/\.$/, ''), o.metadata.name, '-o', 'json'];
      if (o.metadata.namespace) args.push('-n', o.metadata.namespace);
      const got = await kubectl(...args);
      expect(got.exitCode, `${o.kind} ${o.metadata.name}: ${got.stderr}`).toBe(0);
      const live = JSON.parse(got.stdout);
      for (const key of ['spec', 'rules', 'roleRef', 'subjects']) if (o[key] !== undefined) expect(live[key], `${o.kind} ${o.metadata.name} .${key}`).toEqual(o[key]);
    }
    // The images transformer of the kustomization pins the release tag.
    const ds = objects.find((o) => o.kind === 'DaemonSet')!;
    expect(ds.spec.template.spec.containers[0].image).toMatch(/^ghcr\.io\/vxmesh\/vxmesh:\d+\.\d+\.\d+$/);

    // Short names, as deploy/README.md uses them.
    const short = await kubectl('get', 'crd,ds,deploy,vxn,vxip', '-A', '-o', 'name');
    expect(short.exitCode, short.stderr).toBe(0);
    expect(short.stdout).toContain('customresourcedefinition.apiextensions.k8s.io/vxlannetworks.network.vxmesh.io');
    expect(short.stdout).toContain('daemonset.apps/vxmesh-agent');

    const again = await kubectl('apply', '--validate=false', '-k', DEPLOY);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout.trim().split('\n').every((l) => l.endsWith(' unchanged')), again.stdout).toBe(true);
  });
});
