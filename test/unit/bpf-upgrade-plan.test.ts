import { describe, expect, it } from 'vitest';
import { describeStep, flowsPerShare, mapDifferences, planUpgrade, type MapInfo } from '../../src/dataplane/bpf/upgrade-plan.js';

const flows = { ctKey: 20, ctEntry: 8 };
const hash = (keySize: number, valueSize: number, maxEntries = 1024, flags = 0): MapInfo => ({ type: 1, keySize, valueSize, maxEntries, flags });
const lru = (keySize: number, valueSize: number, maxEntries: number): MapInfo => ({ type: 9, keySize, valueSize, maxEntries, flags: 0 });

describe('upgrade plan', () => {
  it('names every differing field with its old and new value', () => {
    expect(mapDifferences(lru(20, 8, 262144), { type: 13, keySize: 4, valueSize: 4, maxEntries: 4096, flags: 1 })).toEqual([
      'type LRUHash(9) -> HashOfMaps(13)', 'key size 20 -> 4', 'value size 8 -> 4', 'max entries 262144 -> 4096', 'flags 0x0 -> 0x1',
    ]);
    expect(mapDifferences(hash(4, 28), hash(4, 28))).toEqual([]);
  });

  it('reuses identical maps, migrates the flat flow table into shares, copies byte-compatible maps, recreates the rest', () => {
    const pinned = {
      vxm_ports: hash(4, 8), vxm_networks: hash(4, 28), vxm_ct: lru(20, 8, 262144), vxm_endpoints: hash(12, 16, 65536),
      vxm_stats: { type: 5, keySize: 8, valueSize: 16, maxEntries: 4096, flags: 0 }, vxm_flood: hash(4, 260), vxm_old: hash(4, 4),
    };
    const declared = {
      vxm_ports: hash(4, 8), vxm_networks: hash(4, 32), vxm_ct: { type: 13, keySize: 4, valueSize: 4, maxEntries: 4096, flags: 0 },
      vxm_endpoints: hash(12, 16, 131072), vxm_stats: { type: 5, keySize: 8, valueSize: 24, maxEntries: 4096, flags: 0 },
      vxm_flood: hash(4, 260), vxm_ct_abi: hash(20, 8, 1),
    };
    const steps = planUpgrade(pinned, declared, flows);
    expect(steps.map((s) => [s.map, s.action, 'converter' in s ? s.converter : undefined])).toEqual([
      ['vxm_ct', 'migrate', 'ct-shares'], ['vxm_ct_abi', 'create', undefined], ['vxm_endpoints', 'migrate', 'copy'],
      ['vxm_flood', 'reuse', undefined], ['vxm_networks', 'recreate', undefined], ['vxm_old', 'drop', undefined],
      ['vxm_ports', 'reuse', undefined], ['vxm_stats', 'recreate', undefined],
    ]);
    expect(steps.map(describeStep)).toContain('map vxm_networks: recreate (no converter for the old layout: filled from the intent): value size 28 -> 32');
    expect(steps.map(describeStep)).toContain('map vxm_stats: recreate (counters reset): value size 16 -> 24');
    expect(steps.map(describeStep)).toContain('map vxm_ct: migrate (ct-shares): type LRUHash(9) -> HashOfMaps(13), key size 20 -> 4, value size 8 -> 4, max entries 262144 -> 4096');
  });

  it('recreates a flow table no converter knows (another flow key, or a hash of maps resized) instead of misreading it', () => {
    // An old flat table of another key size is no layout this build knows: recreated (replies checked anew).
    const steps = planUpgrade({ vxm_ct: lru(16, 8, 262144) }, { vxm_ct: { type: 13, keySize: 4, valueSize: 4, maxEntries: 4096, flags: 0 } }, flows);
    expect(steps[0]).toMatchObject({ map: 'vxm_ct', action: 'recreate' });
    // A hash of maps never copies its values (inner map ids) as bytes.
    const hom = { type: 13, keySize: 4, valueSize: 4, maxEntries: 4096, flags: 0 };
    expect(planUpgrade({ vxm_ct: hom }, { vxm_ct: { ...hom, maxEntries: 8192 } }, flows)[0]).toMatchObject({ action: 'recreate' });
  });

  it('creates the event maps a build adds, and recreates (never copies) a resized ring buffer', () => {
    const ring = (bytes: number): MapInfo => ({ type: 27, keySize: 0, valueSize: 0, maxEntries: bytes, flags: 0 });
    const percpu = { type: 6, keySize: 4, valueSize: 32, maxEntries: 1, flags: 0 };
    const cfg = { type: 2, keySize: 4, valueSize: 8, maxEntries: 1, flags: 0 };
    const before = { vxm_ports: hash(4, 8) };
    const steps = planUpgrade(before, { ...before, vxm_events: ring(262144), vxm_ev_cpu: percpu, vxm_ev_config: cfg }, flows);
    expect(steps.map((s) => [s.map, s.action])).toEqual([['vxm_ev_config', 'create'], ['vxm_ev_cpu', 'create'], ['vxm_events', 'create'], ['vxm_ports', 'reuse']]);
    expect(planUpgrade({ vxm_events: ring(262144) }, { vxm_events: ring(262144) }, flows)[0]).toMatchObject({ action: 'reuse' });
    const resized = planUpgrade({ vxm_events: ring(262144) }, { vxm_events: ring(1048576) }, flows);
    expect(resized.map(describeStep)).toEqual(['map vxm_events: recreate (events not yet read are lost): max entries 262144 -> 1048576']);
  });

  it('groups old flows per VNI into the shares that exist, dropping networks without one', () => {
    const key = (vni: number, port: number) => { const b = Buffer.alloc(20); b.writeUInt32LE(vni, 0); b.writeUInt16BE(port, 12); return b; };
    const val = (n: number) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return b; };
    const keys = Buffer.concat([key(100, 1), key(200, 2), key(100, 3)]);
    const values = Buffer.concat([val(1), val(2), val(3)]);
    const out = flowsPerShare(keys, values, 3, 20, 8, new Set([100, 300]));
    expect([...out.keys()]).toEqual([100]);
    expect(out.get(100)!.keys.map((k) => k.readUInt16BE(12))).toEqual([1, 3]);
    expect(out.get(100)!.values.map((v) => Number(v.readBigUInt64LE(0)))).toEqual([1, 3]);
  });
});
