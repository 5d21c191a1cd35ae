/** The file source never turns a failed read into an empty snapshot (the agent would remove every network). */
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createFileSource, listYamlFiles } from '../../src/sources/file/index.js';
import { SourceError } from '../../src/errors.js';

const NET = `apiVersion: network.harvesterhci.io/v1beta1
kind: ClusterNetwork
metadata: { name: overlay }
---
apiVersion: network.vxmesh.io/v1alpha1
kind: VxlanConfig
metadata: { name: overlay-all }
spec: { clusterNetwork: overlay, uplink: { nics: [eth1] } }
---
apiVersion: network.vxmesh.io/v1alpha1
kind: VxlanNetwork
metadata: { name: blue, namespace: tenant-a }
spec: { clusterNetwork: overlay, vni: 100, cidr: 10.10.0.0/24 }
`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function stateDir(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'vxm-filesrc-'));
  roots.push(root);
  const dir = path.join(root, 'state');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'net.yaml'), NET);
  return dir;
}

describe('file source read errors', () => {
  it('lists a missing directory as an error naming it, unless told it may be missing', async () => {
    const dir = path.join(stateDir(), 'nope');
    await expect(listYamlFiles(dir)).rejects.toThrow(SourceError);
    await expect(listYamlFiles(dir)).rejects.toThrow(/state directory .*nope: cannot list: ENOENT/);
    expect(await listYamlFiles(dir, { missingOk: true })).toEqual([]);
  });

  it('keeps the last snapshot and sets readError while the state directory is a file, and clears it when it is back', async () => {
    const dir = stateDir();
    const src = createFileSource({ path: dir, log: pino({ level: 'silent' }), pollMs: 20, debounceMs: 5 });
    let changes = 0;
    await src.start(() => changes++);
    try {
      expect(src.current().snapshot.vxlanNetworks.map((n) => n.metadata.name)).toEqual(['blue']);
      expect(src.current().readError).toBeUndefined();
      renameSync(dir, `${dir}.away`);
      writeFileSync(dir, 'not a directory');
      await sleep(150);
      const broken = src.current();
      expect(broken.readError).toMatch(/state directory .*state: cannot list: ENOTDIR/);
      expect(broken.readErrors).toBeGreaterThan(0);
      expect(broken.snapshot.vxlanNetworks.map((n) => n.metadata.name)).toEqual(['blue']); // never an empty snapshot
      const before = changes;
      rmSync(dir);
      renameSync(`${dir}.away`, dir);
      await sleep(150);
      expect(src.current().readError).toBeUndefined();
      expect(src.current().snapshot.vxlanNetworks.map((n) => n.metadata.name)).toEqual(['blue']);
      expect(changes).toBeGreaterThan(before); // the agent is told, so its next pass reports ready again
    } finally {
      await src.close();
    }
  });
});
