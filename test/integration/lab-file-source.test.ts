/** The file source: reads a state directory, notices changes, keeps last good documents, publishes status atomically. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import YAML from 'yaml';
import { createFileSource } from '../../src/sources/file/index.js';
import { statusObject } from '../../src/agent/status.js';
import { exampleDocs, toYaml, waitFor } from '../helpers/lab.js';

const log = pino({ level: 'silent' });

describe('file source', () => {
  let dir: string;
  let source: ReturnType<typeof createFileSource> | undefined;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'vxm-fs-'));
  });
  afterEach(async () => {
    await source?.close();
    source = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const clusterDocs = () => exampleDocs('x', 'kernel').filter((d) => d.kind !== 'Lab');

  it('reads every YAML file of the directory (a file path selects its directory)', async () => {
    writeFileSync(path.join(dir, 'cluster.yaml'), toYaml(clusterDocs()));
    source = createFileSource({ path: path.join(dir, 'cluster.yaml'), log });
    await source.start(() => {});
    const s = source.current();
    expect(s.errors).toEqual([]);
    expect(s.snapshot.vxlanNetworks.map((n) => n.metadata.name)).toEqual(['blue', 'red']);
    expect(s.snapshot.vmis).toHaveLength(6);
  });

  it('notices a change within a second and reports it once', async () => {
    writeFileSync(path.join(dir, 'cluster.yaml'), toYaml(clusterDocs()));
    source = createFileSource({ path: dir, log });
    let changes = 0;
    await source.start(() => changes++);
    changes = 0; // the initial read counts as one
    const docs = clusterDocs().filter((d) => d.metadata.name !== 'vm-b3');
    const t0 = Date.now();
    writeFileSync(path.join(dir, '.tmp'), toYaml(docs));
    renameSync(path.join(dir, '.tmp'), path.join(dir, 'cluster.yaml'));
    await waitFor('the change', async () => source!.current().snapshot.vmis.length === 5, 2000, 10);
    await new Promise((r) => setTimeout(r, 300));
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(changes).toBe(1);
  });

  it('keeps serving the last good documents of a file that becomes malformed, and names the problem', async () => {
    writeFileSync(path.join(dir, 'cluster.yaml'), toYaml(clusterDocs()));
    source = createFileSource({ path: dir, log, pollMs: 100 });
    await source.start(() => {});
    writeFileSync(path.join(dir, 'cluster.yaml'), 'kind: [oops\n');
    await waitFor('the error', async () => source!.current().errors.length > 0, 2000, 20);
    expect(source.current().errors[0]!.message).toMatch(/cluster\.yaml: malformed YAML/);
    expect(source.current().snapshot.vmis).toHaveLength(6);
  });

  it('keeps the last good version of an object that becomes invalid', async () => {
    writeFileSync(path.join(dir, 'cluster.yaml'), toYaml(clusterDocs()));
    source = createFileSource({ path: dir, log, pollMs: 100 });
    await source.start(() => {});
    const docs = clusterDocs();
    docs.find((d) => d.metadata.name === 'blue')!.spec.vni = 0;
    writeFileSync(path.join(dir, 'cluster.yaml'), toYaml(docs));
    await waitFor('the error', async () => source!.current().errors.length > 0, 2000, 20);
    expect(source.current().errors.map((e) => e.message)).toContain('VxlanNetwork tenant-a/blue: spec.vni not in 1..16777215');
    expect(source.current().snapshot.vxlanNetworks.find((n) => n.metadata.name === 'blue')?.spec.vni).toBe(100);
  });

  it('publishes a status as status/<clusterNetwork>.<node>.yaml, atomically, and reads it back', async () => {
    source = createFileSource({ path: dir, log, pollMs: 100 });
    await source.start(() => {});
    const at = new Date('2026-01-01T00:00:00Z');
    await source.publishStatus(statusObject({ node: 'n1', clusterNetwork: 'overlay', vtepIP: '198.18.0.11', mode: 'kernel', ready: true, message: 'ok', at }));
    const file = path.join(dir, 'status', 'overlay.n1.yaml');
    expect(YAML.parse(readFileSync(file, 'utf8'))).toEqual({
      apiVersion: 'network.vxmesh.io/v1alpha1',
      kind: 'VxlanStatus',
      metadata: { name: 'overlay.n1' },
      status: {
        clusterNetwork: 'overlay', node: 'n1', vtepIP: '198.18.0.11', mode: 'kernel', ready: true, message: 'ok', lastReconcile: '2026-01-01T00:00:00.000Z',
        conditions: ['Ready', 'VtepReady', 'DataplaneMode', 'InputValid'].map((type) => expect.objectContaining({ type, status: 'True', lastTransitionTime: '2026-01-01T00:00:00.000Z' })),
      },
    });
    expect(readdirSync(path.join(dir, 'status'))).toEqual(['overlay.n1.yaml']); // no temporaries left
    await waitFor('the status in the snapshot', async () => source!.current().snapshot.statuses.length === 1, 2000, 20);
  });
});
