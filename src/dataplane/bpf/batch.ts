/**
 * batch.ts: whole-map reads and many-entry writes in a few syscalls (BPF_MAP_*_BATCH, kernel 5.6+)
 * instead of one or two per entry: at 100k endpoints the per-key walk was a second of every reconcile.
 * Entries travel packed: `count` keys of keySize bytes back to back, values likewise.
 *
 * A map type without batch ops (the kernel answers ENOTSUPP, EOPNOTSUPP or EINVAL: devmaps, LPM tries
 * before 6.x, older kernels) takes the per-key path for that call, so callers never choose.
 */
import { BpfError } from '../../errors.js';
import * as bpf from './libbpf.js';

const ENOENT = 2;
const EINTR = 4;
const ENOSPC = 28;
/** Batch ops not available for this map (type) or kernel: EINVAL, EOPNOTSUPP, ENOTSUPP. */
const UNSUPPORTED = new Set([22, 95, 524]);

/**
 * Most entries read per lookup call. Calls start at 256 and double up to it (small maps stay cheap); a
 * hash bucket larger than the current size (ENOSPC) is read by retrying with twice as many.
 */
export const DUMP_CHUNK = 16_384;
const FIRST_CHUNK = 256;
const MAX_CHUNK = 1 << 20;

export interface Packed {
  count: number;
  /** count × keySize bytes. */
  keys: Buffer;
  /** count × valueSize bytes. */
  values: Buffer;
}

/**
 * Every entry of a map. `valueSize` is what one lookup returns: for per-CPU maps round_up(value, 8) ×
 * possible CPUs. Entries added or removed by the programs while it runs may or may not be included
 * (as with a key walk); none is returned twice.
 */
export function dumpMap(fd: number, keySize: number, valueSize: number, chunk = DUMP_CHUNK): Packed {
  const token = Buffer.alloc(Math.max(keySize, 8)); // in and out position: the kernel reads it before writing it
  const keys: Buffer[] = [];
  const values: Buffer[] = [];
  let total = 0;
  let n = Math.min(FIRST_CHUNK, chunk);
  let inBatch: Buffer | null = null; // null: from the start
  for (;;) {
    const k = Buffer.allocUnsafe(n * keySize);
    const v = Buffer.allocUnsafe(n * valueSize);
    const r = bpf.mapLookupBatch(fd, inBatch, token, k, v, n);
    if (r.errno === ENOSPC && r.count === 0 && n < MAX_CHUNK) {
      n *= 2; // the next hash bucket alone holds more than n entries; the position did not move
      continue;
    }
    if (r.errno && r.errno !== ENOENT) {
      // EINTR: an array-like map changed under a generic batch walk; a key walk copes with that.
      if (UNSUPPORTED.has(r.errno) || r.errno === EINTR) return dumpByKey(fd, keySize, valueSize);
      throw new BpfError('bpf_map_lookup_batch', r.errno, `after ${total} entries`);
    }
    keys.push(k.subarray(0, r.count * keySize));
    values.push(v.subarray(0, r.count * valueSize));
    total += r.count;
    if (r.errno === ENOENT) break; // end of the map
    if (total > 10_000_000) throw new BpfError('bpf_map_lookup_batch', 7, 'map dump did not end');
    inBatch = token;
    n = Math.max(n, Math.min(n * 2, chunk));
  }
  return { count: total, keys: Buffer.concat(keys), values: Buffer.concat(values) };
}

/** The per-key path of dumpMap: get_next_key walk, then one lookup per key (keys deleted meanwhile are skipped). */
function dumpByKey(fd: number, keySize: number, valueSize: number): Packed {
  const keys: Buffer[] = [];
  const values: Buffer[] = [];
  for (const k of bpf.mapKeys(fd, keySize)) {
    const v = bpf.mapLookup(fd, k, valueSize);
    if (!v) continue;
    keys.push(k);
    values.push(v);
  }
  return { count: keys.length, keys: Buffer.concat(keys), values: Buffer.concat(values) };
}

/** An entry the kernel refused to write: its index in the packed input and the errno. */
export interface Refused {
  index: number;
  errno: number;
  message: string;
}

/**
 * Creates or replaces (BPF_ANY) every packed entry the kernel accepts, and returns the ones it refuses
 * (e.g. E2BIG: the map is full) instead of stopping at the first: one network's entries that do not fit
 * must not keep the others' from being written.
 */
export function updateEntries(fd: number, keySize: number, valueSize: number, e: Packed): Refused[] {
  if (!e.count) return [];
  const r = bpf.mapUpdateBatch(fd, e.keys, e.values, e.count);
  if (!r.errno) return [];
  // Refused outright (unsupported): `count` is left as passed, so it does not say how far the batch got;
  // rewriting an entry is harmless, so start over per key. Otherwise the first r.count entries are written.
  const from = UNSUPPORTED.has(r.errno) ? 0 : Math.min(r.count, e.count);
  const refused: Refused[] = [];
  for (let i = from; i < e.count; i++) {
    try {
      bpf.mapUpdate(fd, e.keys.subarray(i * keySize, (i + 1) * keySize), e.values.subarray(i * valueSize, (i + 1) * valueSize));
    } catch (err) {
      // The errno alone: libbpf's message buffer (BpfError's detail) holds unrelated earlier lines here.
      const errno = err instanceof BpfError ? err.errno : 0;
      refused.push({ index: i, errno, message: errno ? new BpfError('bpf_map_update_elem', errno).message : (err as Error).message });
    }
  }
  return refused;
}

/** Deletes every packed key; keys already absent (someone else deleted them) are skipped, as mapDelete does. */
export function deleteKeys(fd: number, keySize: number, keys: Buffer, count: number): void {
  for (let done = 0; done < count;) {
    const r = bpf.mapDeleteBatch(fd, keys.subarray(done * keySize), count - done);
    if (!r.errno) return;
    if (r.errno === ENOENT) {
      done += r.count + 1; // the key after the r.count deleted ones was absent; the batch stopped there
      continue;
    }
    if (!UNSUPPORTED.has(r.errno)) throw new BpfError('bpf_map_delete_batch', r.errno, `key ${done + r.count + 1} of ${count}`);
    // Refused outright (`count` untouched, see updateEntries): per key from this call's first key.
    for (let i = done; i < count; i++) bpf.mapDelete(fd, keys.subarray(i * keySize, (i + 1) * keySize));
    return;
  }
}
