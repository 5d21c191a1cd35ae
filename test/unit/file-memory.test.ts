import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFileSource, loadStateDir, newLoadMemory } from '../../src/sources/file/index.js';
import { memoryFileOf, newFirstSeen, noteFirstSeen } from '../../src/sources/memory.js';
import { fixturePath } from '../helpers/fixtures.js';

const log = pino({ level: 'silent' });
const net = (name: string, vni: number, cn = 'overlay') => `apiVersion: network.vxmesh.io/v1alpha1
kind: VxlanNetwork
metadata: { name: ${name}, namespace: tenant-a }
spec: { clusterNetwork: ${cn}, vni: ${vni}, cidr: 10.40.0.0/24 }
`;
const cluster = (name: string) => `apiVersion: network.harvesterhci.io/v1beta1
kind: ClusterNetwork
metadata: { name: ${name} }
`;

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'vxm-objects-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('file source first-seen order', () => {
  it('ranks ids in the order first seen and forgets deleted ones (a recreated object is new)', () => {
    const seen = newFirstSeen();
    noteFirstSeen(seen, ['b', 'a']);
    noteFirstSeen(seen, ['a', 'c', 'b']);
    expect([...seen.rank]).toEqual([['b', 1], ['a', 2], ['c', 3]]);
    expect(noteFirstSeen(seen, ['a', 'c', 'b'])).toBe(false);
    noteFirstSeen(seen, ['c', 'b']);
    noteFirstSeen(seen, ['c', 'b', 'a']);
    expect(seen.rank.get('a')).toBe(4);
  });

  it('decides between two objects never seen good by the order the files first showed them, not by name', async () => {
    const base = await readFile(fixturePath('two-tenants.yaml'), 'utf8');
    await writeFile(path.join(dir, 'base.yaml'), base);
    // zeta appears first, but cannot be accepted yet (its cluster network is missing) ...
    await writeFile(path.join(dir, 'z.yaml'), net('zeta', 300, 'later'));
    const memory = newLoadMemory();
    const first = await loadStateDir(dir, memory);
    expect(first.errors.map((e) => e.message)).toEqual(['VxlanNetwork tenant-a/zeta: spec.clusterNetwork later: no such ClusterNetwork']);
    // ... then alpha (which sorts first) takes the same VNI, and the cluster network appears: zeta was first.
    await writeFile(path.join(dir, 'a.yaml'), `${net('alpha', 300, 'later')}---\n${cluster('later')}`);
    const second = await loadStateDir(dir, memory);
    expect(second.snapshot.vxlanNetworks.find((n) => n.spec.vni === 300)?.metadata.name).toBe('zeta');
    expect(second.errors.map((e) => e.message)).toEqual([expect.stringMatching(/^VxlanNetwork tenant-a\/alpha: spec.vni 300 is already used by VxlanNetwork tenant-a\/zeta/)]);
  });
});

describe('file source memory across agent restarts', () => {
  async function run(node?: string) {
    const source = createFileSource({ path: dir, log, ...(node ? { node } : {}), pollMs: 60_000 });
    await source.start(() => {});
    const state = source.current();
    await source.close();
    return state;
  }
  const vnis = (s: Awaited<ReturnType<typeof run>>) => Object.fromEntries(s.snapshot.vxlanNetworks.map((n) => [n.metadata.name, n.spec.vni]));

  it('keeps the untouched network and the edited one\'s last good version after a restart', async () => {
    const base = await readFile(fixturePath('two-tenants.yaml'), 'utf8');
    await writeFile(path.join(dir, 'objects.yaml'), base);
    expect(vnis(await run('node1'))).toEqual({ blue: 100, red: 200 });
    expect(JSON.parse(await readFile(memoryFileOf(dir, 'node1'), 'utf8'))).toMatchObject({ version: 1, firstSeen: { 'VxlanNetwork/tenant-a/blue': expect.any(Number) } });
    // While the agent is down, tenant-a gives blue tenant-b's VNI.
    await writeFile(path.join(dir, 'objects.yaml'), base.replace('vni: 100', 'vni: 200'));
    const after = await run('node1');
    expect(vnis(after)).toEqual({ blue: 100, red: 200 });
    expect(after.errors.map((e) => e.message)).toEqual([expect.stringMatching(/^VxlanNetwork tenant-a\/blue: spec.vni 200 is already in use .*the last good version stays in force$/)]);
    // A new node starts from the running agents' memory, so it decides the same way ...
    expect(vnis(await run('node9'))).toEqual({ blue: 100, red: 200 });
    // ... control: without any memory, an agent cannot know who was first (file order decides).
    await rm(path.join(dir, '.vxmesh'), { recursive: true });
    expect(vnis(await run('node9'))).toEqual({ blue: 200 });
  });

  it('starts afresh from a missing or corrupt memory file', async () => {
    await writeFile(path.join(dir, 'objects.yaml'), await readFile(fixturePath('two-tenants.yaml'), 'utf8'));
    await run('node1');
    await writeFile(memoryFileOf(dir, 'node1'), '{ not json');
    expect(vnis(await run('node1'))).toEqual({ blue: 100, red: 200 });
    expect(JSON.parse(await readFile(memoryFileOf(dir, 'node1'), 'utf8')).version).toBe(1);
  });
});
