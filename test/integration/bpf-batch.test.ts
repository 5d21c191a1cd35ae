/**
 * batch.ts against real kernel maps: whole-map dumps in batches (bigger than one batch, hash buckets
 * bigger than the batch), batched writes and deletes, per-CPU values, the per-key fallback for a map type
 * without batch ops, errors with errno names; and the reconcile's observe -> diff -> apply over vxmesh's
 * own pinned maps at 20k endpoints still repairing entries changed behind its back (bpftool).
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as bpf from '../../src/dataplane/bpf/libbpf.js';
import { deleteKeys, dumpMap, updateEntries, type Packed } from '../../src/dataplane/bpf/batch.js';
import { ensurePrograms } from '../../src/dataplane/bpf/loader.js';
import { PinnedMaps } from '../../src/dataplane/bpf/maps.js';
import { desiredMaps, diffMaps } from '../../src/dataplane/bpf/desired.js';
import { scaleEndpoints, scaleIntent } from '../../src/bench/cp-worker.js';
import { run } from '../../src/util/exec.js';
import { mountBpffs, unmountBpffs } from '../helpers/bpffs.js';

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

/** `count` entries: key i (u32) -> value {i, ~i} (2 × u32), or what `value` makes. */
function packed(keys: number[], value = (k: number) => Buffer.concat([u32(k), u32(~k >>> 0)])): Packed {
  return { count: keys.length, keys: Buffer.concat(keys.map(u32)), values: Buffer.concat(keys.map(value)) };
}

/** Map contents as key -> value hex, from a dump. */
function entries(p: Packed, keySize: number, valueSize: number): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < p.count; i++) {
    const k = p.keys.toString('hex', i * keySize, (i + 1) * keySize);
    expect(out.has(k), `key ${k} returned twice`).toBe(false);
    out.set(k, p.values.toString('hex', i * valueSize, (i + 1) * valueSize));
  }
  return out;
}

/** The same contents read the old way: one get_next_key and one lookup per key. */
function walked(fd: number, keySize: number, valueSize: number): Map<string, string> {
  return new Map(bpf.mapKeys(fd, keySize).map((k) => [k.toString('hex'), bpf.mapLookup(fd, k, valueSize)!.toString('hex')]));
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const fds: number[] = [];
function create(type: number, keySize: number, valueSize: number, maxEntries: number, flags = 0): number {
  const fd = bpf.mapCreate(type, 'vxm_test', keySize, valueSize, maxEntries, flags);
  fds.push(fd);
  return fd;
}

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('integration tests need root (CAP_BPF) to create maps');
});

afterAll(() => {
  for (const fd of fds) bpf.closeFd(fd);
});

describe('batched map I/O (batch.ts)', () => {
  it('dumps a hash map bigger than one batch: every entry exactly once, as the per-key walk reads it', () => {
    const fd = create(bpf.BPF_MAP_TYPE_HASH, 4, 8, 65_536);
    updateEntries(fd, 4, 8, packed(range(0, 40_000)));
    const want = walked(fd, 4, 8);
    expect(want.size).toBe(40_000);
    expect(entries(dumpMap(fd, 4, 8), 4, 8)).toEqual(want);
    expect(entries(dumpMap(fd, 4, 8, 64), 4, 8)).toEqual(want);
  });

  it('reads a hash bucket larger than the batch by retrying with a larger one (ENOSPC)', () => {
    const fd = create(bpf.BPF_MAP_TYPE_HASH, 4, 8, 4096);
    updateEntries(fd, 4, 8, packed(range(0, 3000))); // ~0.7 entries per bucket: many buckets hold 2 or more
    // Batches of 1 stop at the first bucket of two or more (ENOSPC, nothing read): with ~700 such buckets it comes.
    const token = Buffer.alloc(8);
    let step = bpf.mapLookupBatch(fd, null, token, Buffer.alloc(4), Buffer.alloc(8), 1);
    while (step.errno === 0) step = bpf.mapLookupBatch(fd, token, token, Buffer.alloc(4), Buffer.alloc(8), 1);
    expect(step).toEqual({ count: 0, errno: 28 });
    expect(entries(dumpMap(fd, 4, 8, 1), 4, 8)).toEqual(walked(fd, 4, 8));
  });

  it('dumps an empty map as nothing', () => {
    const fd = create(bpf.BPF_MAP_TYPE_HASH, 4, 8, 16);
    expect(dumpMap(fd, 4, 8).count).toBe(0);
  });

  it('writes and deletes in batches, overwriting existing keys and skipping keys already gone', () => {
    const fd = create(bpf.BPF_MAP_TYPE_HASH, 4, 8, 32_768);
    updateEntries(fd, 4, 8, packed(range(0, 20_000)));
    updateEntries(fd, 4, 8, packed(range(10_000, 25_000), (k) => Buffer.concat([u32(k), u32(7)])));
    for (const k of range(0, 100)) bpf.mapDelete(fd, u32(k * 50)); // someone else deleted 100 of the keys below
    deleteKeys(fd, 4, Buffer.concat(range(0, 5000).map(u32)), 5000);
    const got = entries(dumpMap(fd, 4, 8), 4, 8);
    expect(got.size).toBe(20_000);
    expect(got.has(u32(4999).toString('hex'))).toBe(false);
    expect(got.get(u32(5000).toString('hex'))).toBe(Buffer.concat([u32(5000), u32(~5000 >>> 0)]).toString('hex'));
    expect(got.get(u32(24_999).toString('hex'))).toBe(Buffer.concat([u32(24_999), u32(7)]).toString('hex'));
  });

  it('reads per-CPU maps with one value slot per possible CPU', () => {
    const cpus = bpf.possibleCpus();
    const fd = create(bpf.BPF_MAP_TYPE_PERCPU_HASH, 4, 16, 1024);
    const value = (k: number) => Buffer.concat(range(0, cpus).map((c) => {
      const slot = Buffer.alloc(16);
      slot.writeBigUInt64LE(BigInt(k * 100 + c));
      slot.writeBigUInt64LE(BigInt(c), 8);
      return slot;
    }));
    updateEntries(fd, 4, 16 * cpus, packed(range(0, 600), value));
    const got = entries(dumpMap(fd, 4, 16 * cpus), 4, 16 * cpus);
    expect(got).toEqual(walked(fd, 4, 16 * cpus));
    expect(got.get(u32(599).toString('hex'))).toBe(value(599).toString('hex'));
  });

  it('keeps LPM tries (policy rules) right, whether the kernel batches them or not', () => {
    const fd = create(bpf.BPF_MAP_TYPE_LPM_TRIE, 8, 4, 4096, bpf.BPF_F_NO_PREALLOC);
    const key = (i: number) => {
      const k = Buffer.alloc(8);
      k.writeUInt32LE(24 + (i % 9)); // prefix length: the address bits beyond it are 0, so every key is distinct
      k.writeUInt32BE((10 << 24) | (i << 8), 4);
      return k;
    };
    const keys = range(0, 2000);
    updateEntries(fd, 8, 4, { count: keys.length, keys: Buffer.concat(keys.map(key)), values: Buffer.concat(keys.map(u32)) });
    expect(entries(dumpMap(fd, 8, 4, 64), 8, 4)).toEqual(walked(fd, 8, 4));
    expect(dumpMap(fd, 8, 4).count).toBe(2000);
    deleteKeys(fd, 8, Buffer.concat(keys.slice(0, 1500).map(key)), 1500);
    expect(walked(fd, 8, 4).size).toBe(500);
  });

  it('falls back to one call per key for a map type without batch ops (DEVMAP_HASH)', async () => {
    const ns = `vxm-bt-${crypto.randomBytes(3).toString('hex')}`;
    await run(['ip', 'netns', 'add', ns]);
    try {
      // A devmap entry holds a device: ifindex 1 is the loopback of this test's own namespace.
      bpf.inNetns(ns, () => {
        const fd = create(bpf.BPF_MAP_TYPE_DEVMAP_HASH, 4, 4, 64);
        expect(bpf.mapLookupBatch(fd, null, Buffer.alloc(8), Buffer.alloc(40), Buffer.alloc(40), 10).errno).toBe(524); // ENOTSUPP
        updateEntries(fd, 4, 4, packed(range(0, 10), () => u32(1)));
        const got = entries(dumpMap(fd, 4, 4), 4, 4);
        expect([...got.keys()].sort()).toEqual(range(0, 10).map((k) => u32(k).toString('hex')).sort());
        expect(new Set(got.values())).toEqual(new Set([u32(1).toString('hex')]));
        bpf.mapDelete(fd, u32(3));
        deleteKeys(fd, 4, Buffer.concat(range(0, 6).map(u32)), 6);
        expect(dumpMap(fd, 4, 4).count).toBe(4);
      });
    } finally {
      await run(['ip', 'netns', 'del', ns], { allowFailure: true });
    }
  });

  it('writes every entry a full map (E2BIG) still takes and returns the refused ones with errno; a delete from an array throws (per-key EINVAL after ENOTSUPP)', () => {
    const full = create(bpf.BPF_MAP_TYPE_HASH, 4, 8, 100);
    const refused = updateEntries(full, 4, 8, packed(range(0, 150)));
    expect(refused.map((r) => r.index)).toEqual(range(100, 150));
    expect(new Set(refused.map((r) => r.errno))).toEqual(new Set([7]));
    expect(refused[0]!.message).toMatch(/^bpf_map_update_elem failed: errno 7 \(E2BIG\)/);
    expect(dumpMap(full, 4, 8).count).toBe(100); // every entry that fits is written
    // Replacing an existing entry in a full map still works (no new slot needed).
    expect(updateEntries(full, 4, 8, packed([5], () => Buffer.alloc(8, 9)))).toEqual([]);

    const array = create(bpf.BPF_MAP_TYPE_ARRAY, 4, 8, 4);
    expect(() => deleteKeys(array, 4, u32(0), 1)).toThrow(/bpf_map_delete_elem failed: errno 22 \(EINVAL\)/);
  });
});

describe('reconcile over the pinned maps with batched I/O', () => {
  let bpffs: string | undefined;
  let pinDir = '';

  beforeAll(async () => {
    bpffs = await mountBpffs();
    pinDir = path.join(bpffs, 'vxmesh');
  });

  afterAll(async () => {
    await unmountBpffs(bpffs);
  });

  it('programs 20k endpoints, then repairs entries deleted, changed and added with bpftool on the next pass', async () => {
    const { hash } = ensurePrograms(pinDir);
    const intent = scaleIntent('n1', scaleEndpoints(20_000, 'n1'));
    const env = { ifindex: {}, vmPorts: {}, objectHash: hash };
    const desired = desiredMaps(intent, env).state;
    const pass = () => {
      const maps = PinnedMaps.open(pinDir);
      try {
        const changes = diffMaps(maps.readState(), desired);
        maps.apply(changes);
        return changes;
      } finally {
        maps.close();
      }
    };
    expect(pass().length).toBeGreaterThan(40_000); // endpoints and ARP entries, in a few batch calls
    expect(pass()).toEqual([]);

    const [gone, changed] = [...desired.vxm_endpoints.keys()].slice(100, 102);
    const bytes = (hex: string) => hex.match(/../g)!;
    const map = (name: string) => path.join(pinDir, name);
    await run(['bpftool', 'map', 'delete', 'pinned', map('vxm_endpoints'), 'key', 'hex', ...bytes(gone!)]);
    await run(['bpftool', 'map', 'update', 'pinned', map('vxm_endpoints'), 'key', 'hex', ...bytes(changed!), 'value', 'hex', ...bytes('00'.repeat(16))]);
    const stray = `${'f4010000'}02aaaaaaaaaa0000`; // {vni 500, a MAC no endpoint has}
    await run(['bpftool', 'map', 'update', 'pinned', map('vxm_endpoints'), 'key', 'hex', ...bytes(stray), 'value', 'hex', ...bytes('00'.repeat(16))]);

    const repair = pass();
    expect(repair.map((c) => [c.op, c.key]).sort()).toEqual([['delete', stray], ['update', changed], ['update', gone]].sort());
    expect(pass()).toEqual([]);
    const maps = PinnedMaps.open(pinDir);
    try {
      expect(maps.readTable('vxm_endpoints')).toEqual(desired.vxm_endpoints);
    } finally {
      maps.close();
    }
  });
});
