/**
 * What a source remembers across agent restarts (sources/memory.ts), the pure part: the file's text and
 * back, and that the restored state decides conflicts the way the running agent did. The Kubernetes
 * source keeps it in the agent's state dir (`<state dir>/.vxmesh/<node>.json`), the file source in its
 * objects' directory; both go through memoryJson / parseMemory.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildSnapshot, docId } from '../../src/sources/validate.js';
import { memoryJson, memoryWriter, newFirstSeen, noteFirstSeen, parseMemory } from '../../src/sources/memory.js';

type Doc = Record<string, any>;
const TS = '2026-06-01T00:00:00Z'; // one second: Kubernetes' creationTimestamp cannot order them
const vmi = (name: string, ns: string, network: string, mac: string): Doc => ({
  apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name, namespace: ns, creationTimestamp: TS },
  spec: { domain: { devices: { interfaces: [{ name: 'nic1', macAddress: mac }] } }, networks: [{ name: 'nic1', multus: { networkName: network } }] },
  status: { nodeName: 'node1' },
});
const docs = (): Doc[] => [
  { apiVersion: 'network.harvesterhci.io/v1beta1', kind: 'ClusterNetwork', metadata: { name: 'overlay', creationTimestamp: TS } },
  {
    apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanNetwork', metadata: { name: 'shared', namespace: 'tenant-a', creationTimestamp: TS },
    spec: { clusterNetwork: 'overlay', vni: 100, cidr: '10.10.0.0/24', allowedNamespaces: ['tenant-b'] },
  },
  // tenant-b's VM sorts first by namespace and by name: without memory it would win any tie
  vmi('a1', 'tenant-b', 'tenant-a/shared', '02:00:00:00:00:01'),
  vmi('z9', 'tenant-a', 'tenant-a/shared', '02:00:00:00:00:02'),
];
const ids = (d: Doc[]) => d.map(docId).filter((id): id is string => id !== undefined);
const macOf = (r: ReturnType<typeof buildSnapshot>, name: string) => r.snapshot.vmis.find((v) => v.metadata.name === name)?.spec.domain.devices.interfaces[0]?.macAddress;

describe('a source\'s memory across agent restarts', () => {
  it('round-trips the first-seen order and the last good versions through the file\'s text, without VxlanStatuses', () => {
    const seen = newFirstSeen();
    noteFirstSeen(seen, ids(docs()));
    const good = buildSnapshot(docs(), new Map(), { firstSeen: seen.rank });
    const status = { apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanStatus', metadata: { name: 'overlay.node1' }, status: { node: 'node1', clusterNetwork: 'overlay', ready: true } };
    const lastGood = new Map([...good.lastGood, ['VxlanStatus/overlay.node1', status]]);
    const back = parseMemory(memoryJson(seen, lastGood))!;
    expect(back.firstSeen).toEqual(seen);
    expect([...back.lastGood.keys()].sort()).toEqual([...good.lastGood.keys()].sort());
    expect(back.lastGood.get('VirtualMachineInstance/tenant-a/z9')).toEqual(good.lastGood.get('VirtualMachineInstance/tenant-a/z9'));
    expect(back.dropped).toBe(0);
  });

  it('is nothing for a file that is not one (a fresh start), and drops versions this build no longer accepts', () => {
    expect(parseMemory('')).toBeUndefined();
    expect(parseMemory('{"version":2,"next":1,"firstSeen":{},"lastGood":{}}')).toBeUndefined();
    const r = parseMemory(JSON.stringify({
      version: 1, next: 3, firstSeen: { 'ClusterNetwork/overlay': 1 },
      lastGood: { 'ClusterNetwork/overlay': docs()[0], 'VxlanNetwork/tenant-a/x': { kind: 'VxlanNetwork', spec: { vni: 'not a number' } } },
    }))!;
    expect([...r.lastGood.keys()]).toEqual(['ClusterNetwork/overlay']);
    expect(r.dropped).toBe(1);
    expect(r.firstSeen).toEqual({ rank: new Map([['ClusterNetwork/overlay', 1]]), next: 3 });
  });

  it('after a restart with a conflicting edit in place, rejects the edit and keeps the bystander, as before the restart; without the memory the bystander loses', () => {
    // Running agent: both VMs accepted; then tenant-b edits a1 to z9's MAC.
    const seen = newFirstSeen();
    noteFirstSeen(seen, ids(docs()));
    const good = buildSnapshot(docs(), new Map(), { firstSeen: seen.rank });
    expect(good.errors).toEqual([]);
    const edited = docs();
    edited[2]!.spec.domain.devices.interfaces[0].macAddress = '02:00:00:00:00:02';
    const before = buildSnapshot(edited, good.lastGood, { firstSeen: seen.rank });
    expect([macOf(before, 'a1'), macOf(before, 'z9')]).toEqual(['02:00:00:00:00:01', '02:00:00:00:00:02']);

    // Restarted agent, from what the running one wrote.
    const kept = parseMemory(memoryJson(seen, before.lastGood))!;
    noteFirstSeen(kept.firstSeen, ids(edited));
    const after = buildSnapshot(edited, kept.lastGood, { firstSeen: kept.firstSeen.rank });
    expect(after.errors.map((e) => e.message)).toEqual(before.errors.map((e) => e.message));
    expect(after.errors.map((e) => e.message)).toEqual([expect.stringMatching(/^VirtualMachineInstance tenant-b\/a1: .*macAddress 02:00:00:00:00:02 is already in use/)]);
    expect([macOf(after, 'a1'), macOf(after, 'z9')]).toEqual(['02:00:00:00:00:01', '02:00:00:00:00:02']);

    // Positive control: a restart that forgot everything decides by name, and the untouched z9 goes dark.
    const fresh = newFirstSeen();
    noteFirstSeen(fresh, ids(edited));
    const amnesiac = buildSnapshot(edited, new Map(), { firstSeen: fresh.rank });
    expect(amnesiac.errors.map((e) => e.message)).toEqual([expect.stringMatching(/^VirtualMachineInstance tenant-a\/z9: .*is already in use/)]);
    expect(macOf(amnesiac, 'z9')).toBeUndefined();
  });

  it('writes the file only when the state changed, and again after a failed write', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'vxm-memory-'));
    try {
      const file = path.join(dir, '.vxmesh', 'node1.json');
      const errors: string[] = [];
      const w = memoryWriter(file, (e) => errors.push(e.message));
      const seen = newFirstSeen();
      noteFirstSeen(seen, ['ClusterNetwork/overlay']);
      await w.save(seen, new Map());
      expect(parseMemory(await readFile(file, 'utf8'))!.firstSeen).toEqual(seen);
      await rm(file);
      await w.save(seen, new Map()); // unchanged: not written again
      await expect(readFile(file, 'utf8')).rejects.toThrow(/ENOENT/);
      noteFirstSeen(seen, ['ClusterNetwork/overlay', 'ClusterNetwork/edge']);
      await w.save(seen, new Map());
      expect(parseMemory(await readFile(file, 'utf8'))!.firstSeen.rank.get('ClusterNetwork/edge')).toBe(2);

      const blocked = memoryWriter(path.join(file, 'not-a-dir.json'), (e) => errors.push(e.message)); // a path under a file
      await blocked.save(seen, new Map());
      expect(errors).toHaveLength(1);
      await blocked.save(seen, new Map()); // the same state is tried again after a failure
      expect(errors).toHaveLength(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
