/**
 * libbpf.ts: typed koffi bindings to libbpf.so.1 (Debian 12: libbpf 1.1) and the few libc calls the
 * loader needs (close, vsnprintf; setns is util/libc.ts's, re-exported as inNetns). Every failing call
 * becomes a BpfError(op, errno, detail) (batch map calls report their errno instead, see BatchStep);
 * libbpf's own messages (verifier log included) are captured through libbpf_set_print and attached as
 * the detail.
 * All calls are synchronous and act in the calling thread's CURRENT network namespace (TC hooks,
 * ifindexes); see inNetns().
 */
import koffi from 'koffi';
import { BpfError } from '../../errors.js';

const lib = koffi.load('libbpf.so.1');
const libc = koffi.load('libc.so.6');

const bpf_object = koffi.opaque('bpf_object');
const bpf_program = koffi.opaque('bpf_program');
const bpf_map = koffi.opaque('bpf_map');
const ring_buffer = koffi.opaque('ring_buffer');

/** struct bpf_tc_hook (libbpf.h). */
export const TcHook = koffi.struct('bpf_tc_hook', { sz: 'size_t', ifindex: 'int', attach_point: 'int', parent: 'uint32_t' });
/** struct bpf_tc_opts (libbpf.h). */
export const TcOpts = koffi.struct('bpf_tc_opts', {
  sz: 'size_t', prog_fd: 'int', flags: 'uint32_t', prog_id: 'uint32_t', handle: 'uint32_t', priority: 'uint32_t',
});
/** struct bpf_test_run_opts (bpf.h). */
export const TestRunOpts = koffi.struct('bpf_test_run_opts', {
  sz: 'size_t', data_in: 'void *', data_out: 'void *', data_size_in: 'uint32_t', data_size_out: 'uint32_t',
  ctx_in: 'void *', ctx_out: 'void *', ctx_size_in: 'uint32_t', ctx_size_out: 'uint32_t', retval: 'uint32_t',
  repeat: 'int', duration: 'uint32_t', flags: 'uint32_t', cpu: 'uint32_t', batch_size: 'uint32_t',
});
/** struct bpf_map_batch_opts (bpf.h). */
export const BatchOpts = koffi.struct('bpf_map_batch_opts', { sz: 'size_t', elem_flags: 'uint64_t', flags: 'uint64_t' });
/** struct bpf_map_create_opts (bpf.h, libbpf 1.1). */
export const MapCreateOpts = koffi.struct('bpf_map_create_opts', {
  sz: 'size_t', btf_fd: 'uint32_t', btf_key_type_id: 'uint32_t', btf_value_type_id: 'uint32_t',
  btf_vmlinux_value_type_id: 'uint32_t', inner_map_fd: 'uint32_t', map_flags: 'uint32_t', map_extra: 'uint64_t',
  numa_node: 'uint32_t', map_ifindex: 'uint32_t',
});

const printFn = koffi.proto('int vxm_libbpf_print_fn(int level, const char *fmt, void *ap)');
const sampleFn = koffi.proto('int vxm_ring_sample_fn(void *ctx, void *data, size_t size)');

const f = {
  set_print: lib.func('void *libbpf_set_print(vxm_libbpf_print_fn *fn)'),
  num_possible_cpus: lib.func('int libbpf_num_possible_cpus(void)'),
  open_file: lib.func('bpf_object *bpf_object__open_file(const char *path, void *opts)'),
  load: lib.func('int bpf_object__load(bpf_object *obj)'),
  close: lib.func('void bpf_object__close(bpf_object *obj)'),
  find_program: lib.func('bpf_program *bpf_object__find_program_by_name(bpf_object *obj, const char *name)'),
  program_fd: lib.func('int bpf_program__fd(bpf_program *prog)'),
  program_pin: lib.func('int bpf_program__pin(bpf_program *prog, const char *path)'),
  find_map: lib.func('bpf_map *bpf_object__find_map_by_name(bpf_object *obj, const char *name)'),
  next_map: lib.func('bpf_map *bpf_object__next_map(bpf_object *obj, bpf_map *prev)'),
  map_name: lib.func('const char *bpf_map__name(bpf_map *map)'),
  map_internal: lib.func('bool bpf_map__is_internal(bpf_map *map)'),
  map_set_pin_path: lib.func('int bpf_map__set_pin_path(bpf_map *map, const char *path)'),
  map_fd: lib.func('int bpf_map__fd(bpf_map *map)'),
  map_set_max_entries: lib.func('int bpf_map__set_max_entries(bpf_map *map, uint32_t max_entries)'),
  map_reuse_fd: lib.func('int bpf_map__reuse_fd(bpf_map *map, int fd)'),
  map_type: lib.func('int bpf_map__type(bpf_map *map)'),
  map_key_size: lib.func('uint32_t bpf_map__key_size(bpf_map *map)'),
  map_value_size: lib.func('uint32_t bpf_map__value_size(bpf_map *map)'),
  map_max_entries: lib.func('uint32_t bpf_map__max_entries(bpf_map *map)'),
  map_flags: lib.func('uint32_t bpf_map__map_flags(bpf_map *map)'),
  update: lib.func('int bpf_map_update_elem(int fd, void *key, void *value, uint64_t flags)'),
  lookup: lib.func('int bpf_map_lookup_elem(int fd, void *key, _Out_ void *value)'),
  delete: lib.func('int bpf_map_delete_elem(int fd, void *key)'),
  next_key: lib.func('int bpf_map_get_next_key(int fd, void *key, _Out_ void *next)'),
  // Buffers are passed by address, so the kernel's writes (out_batch, keys, values) land in them.
  lookup_batch: lib.func('int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, _Inout_ uint32_t *count, const bpf_map_batch_opts *opts)'),
  update_batch: lib.func('int bpf_map_update_batch(int fd, const void *keys, const void *values, _Inout_ uint32_t *count, const bpf_map_batch_opts *opts)'),
  delete_batch: lib.func('int bpf_map_delete_batch(int fd, const void *keys, _Inout_ uint32_t *count, const bpf_map_batch_opts *opts)'),
  map_create: lib.func('int bpf_map_create(int type, const char *name, uint32_t key_size, uint32_t value_size, uint32_t max_entries, const bpf_map_create_opts *opts)'),
  obj_get: lib.func('int bpf_obj_get(const char *path)'),
  map_fd_by_id: lib.func('int bpf_map_get_fd_by_id(uint32_t id)'),
  obj_pin: lib.func('int bpf_obj_pin(int fd, const char *path)'),
  obj_info: lib.func('int bpf_obj_get_info_by_fd(int fd, _Out_ uint8_t *info, _Inout_ uint32_t *len)'),
  tc_hook_create: lib.func('int bpf_tc_hook_create(bpf_tc_hook *hook)'),
  tc_hook_destroy: lib.func('int bpf_tc_hook_destroy(bpf_tc_hook *hook)'),
  tc_attach: lib.func('int bpf_tc_attach(bpf_tc_hook *hook, _Inout_ bpf_tc_opts *opts)'),
  tc_detach: lib.func('int bpf_tc_detach(bpf_tc_hook *hook, bpf_tc_opts *opts)'),
  tc_query: lib.func('int bpf_tc_query(bpf_tc_hook *hook, _Inout_ bpf_tc_opts *opts)'),
  test_run: lib.func('int bpf_prog_test_run_opts(int fd, _Inout_ bpf_test_run_opts *opts)'),
  ring_new: lib.func('ring_buffer *ring_buffer__new(int map_fd, vxm_ring_sample_fn *sample_cb, void *ctx, void *opts)'),
  ring_consume: lib.func('int ring_buffer__consume(ring_buffer *rb)'),
  ring_free: lib.func('void ring_buffer__free(ring_buffer *rb)'),
  vsnprintf: libc.func('int vsnprintf(_Out_ uint8_t *buf, size_t size, const char *fmt, void *ap)'),
  closeFd: libc.func('int close(int fd)'),
};

// libbpf messages go to a bounded in-memory log instead of stderr; the newest lines become error details.
const messages: string[] = [];
const printBuf = Buffer.alloc(8192);
const LIBBPF_WARN = 0; // verifier logs and real problems; INFO/DEBUG chatter is dropped
const printCb = koffi.register((level: number, fmt: string, ap: unknown) => {
  if (level !== LIBBPF_WARN) return 0;
  const n = f.vsnprintf(printBuf, printBuf.length, fmt, ap) as number;
  const text = printBuf.subarray(0, Math.max(0, Math.min(n, printBuf.length - 1))).toString('utf8');
  for (const line of text.split('\n')) if (line.trim()) messages.push(line);
  if (messages.length > 400) messages.splice(0, messages.length - 400);
  return 0;
}, koffi.pointer(printFn));
f.set_print(printCb);

/** Takes (and clears) libbpf's recent messages. */
export function drainMessages(): string[] {
  return messages.splice(0, messages.length);
}

function detail(): string | undefined {
  const lines = drainMessages();
  return lines.length ? lines.slice(-12).join(' | ') : undefined;
}

function check(op: string, rc: number): number {
  if (rc < 0) throw new BpfError(op, -rc, detail());
  return rc;
}

export type BpfObjectPtr = unknown;
export type BpfProgramPtr = unknown;
export type BpfMapPtr = unknown;

export function openObject(path: string): BpfObjectPtr {
  drainMessages();
  const obj = f.open_file(path, null);
  if (!obj) {
    const why = detail();
    throw new BpfError('bpf_object__open_file', koffi.errno() || 22, why ? `${path}: ${why}` : path);
  }
  return obj;
}

export function loadObject(obj: BpfObjectPtr, name: string): void {
  drainMessages();
  check(`bpf_object__load(${name})`, f.load(obj) as number);
}

export function closeObject(obj: BpfObjectPtr): void {
  f.close(obj);
}

export function findProgram(obj: BpfObjectPtr, name: string): BpfProgramPtr {
  const p = f.find_program(obj, name);
  if (!p) throw new BpfError('bpf_object__find_program_by_name', 2, `program ${name} missing from object`);
  return p;
}

export const programFd = (prog: BpfProgramPtr): number => check('bpf_program__fd', f.program_fd(prog) as number);
export const pinProgram = (prog: BpfProgramPtr, path: string): void => void check(`bpf_program__pin(${path})`, f.program_pin(prog, path) as number);

/** The object's maps that are not libbpf-internal (.rodata, .bss): name and handle. */
export function listMaps(obj: BpfObjectPtr): Array<{ name: string; map: BpfMapPtr }> {
  const out: Array<{ name: string; map: BpfMapPtr }> = [];
  for (let m = f.next_map(obj, null); m; m = f.next_map(obj, m)) {
    if (!f.map_internal(m)) out.push({ name: f.map_name(m) as string, map: m });
  }
  return out;
}

export function findMap(obj: BpfObjectPtr, name: string): BpfMapPtr {
  const m = f.find_map(obj, name);
  if (!m) throw new BpfError('bpf_object__find_map_by_name', 2, `map ${name} missing from object`);
  return m;
}

export const setMapPinPath = (map: BpfMapPtr, path: string): void => void check('bpf_map__set_pin_path', f.map_set_pin_path(map, path) as number);
/** Before load only (the test knob VXMESH_TEST_MAP_MAX_ENTRIES uses it to make a map fill up). */
export const setMapMaxEntries = (map: BpfMapPtr, n: number): void => void check('bpf_map__set_max_entries', f.map_set_max_entries(map, n) as number);
/** Before load: the object's map uses this (already existing) map instead of creating one (libbpf dups the fd). */
export const reuseMapFd = (map: BpfMapPtr, fd: number): void => void check('bpf_map__reuse_fd', f.map_reuse_fd(map, fd) as number);

/** A map's shape as the kernel compares it: type, key/value size, max entries, flags. */
export interface MapShape { type: number; keySize: number; valueSize: number; maxEntries: number; flags: number }

/** What an opened (not necessarily loaded) object declares for one map, after any set_max_entries. */
export function declaredMapShape(map: BpfMapPtr): MapShape {
  return {
    type: f.map_type(map) as number, keySize: f.map_key_size(map) as number, valueSize: f.map_value_size(map) as number,
    maxEntries: f.map_max_entries(map) as number, flags: f.map_flags(map) as number,
  };
}

/** A live map's shape (struct bpf_map_info: type, id, key_size, value_size, max_entries, map_flags, name[16], …). */
export function mapShape(fd: number): MapShape & { id: number; name: string } {
  const info = Buffer.alloc(80);
  const len = [info.length];
  check('bpf_obj_get_info_by_fd', f.obj_info(fd, info, len) as number);
  const name = info.subarray(24, 40);
  return {
    type: info.readUInt32LE(0), id: info.readUInt32LE(4), keySize: info.readUInt32LE(8), valueSize: info.readUInt32LE(12),
    maxEntries: info.readUInt32LE(16), flags: info.readUInt32LE(20), name: name.subarray(0, Math.max(0, name.indexOf(0))).toString() || name.toString(),
  };
}

export const mapFd = (map: BpfMapPtr): number => check('bpf_map__fd', f.map_fd(map) as number);

export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;

export function mapUpdate(fd: number, key: Buffer, value: Buffer, flags = BPF_ANY): void {
  check('bpf_map_update_elem', f.update(fd, key, value, flags) as number);
}

/** Returns the value, or undefined when the key is absent. */
export function mapLookup(fd: number, key: Buffer, valueSize: number): Buffer | undefined {
  const value = Buffer.alloc(valueSize);
  const rc = f.lookup(fd, key, value) as number;
  if (rc === -2) return undefined;
  check('bpf_map_lookup_elem', rc);
  return value;
}

/** Returns false when the key was already absent. */
export function mapDelete(fd: number, key: Buffer): boolean {
  const rc = f.delete(fd, key) as number;
  if (rc === -2) return false;
  check('bpf_map_delete_elem', rc);
  return true;
}

/** Every key of a map (bpf_map_get_next_key walk: one call per key; batch.ts dumps whole maps faster). */
export function mapKeys(fd: number, keySize: number): Buffer[] {
  const keys: Buffer[] = [];
  let prev: Buffer | null = null;
  for (;;) {
    const next = Buffer.alloc(keySize);
    const rc = f.next_key(fd, prev, next) as number;
    if (rc === -2) break;
    check('bpf_map_get_next_key', rc);
    keys.push(next);
    prev = next;
    if (keys.length > 1_000_000) throw new BpfError('bpf_map_get_next_key', 7, 'map walk did not end');
  }
  return keys;
}

/**
 * One batch call's outcome: elements processed, and the errno it stopped with (0: none). Batch calls
 * succeed partly (count = elements done before the errno; a call the kernel refuses outright leaves the
 * count passed in), so they report instead of throwing; batch.ts decides what an errno means (end of map,
 * absent key, map type without batch ops) and throws BpfError.
 */
export interface BatchStep { count: number; errno: number }

const batchOpts = () => ({ sz: koffi.sizeof(BatchOpts), elem_flags: BPF_ANY, flags: 0 });

function batchStep(rc: number, count: number[]): BatchStep {
  return { count: count[0]!, errno: rc < 0 ? -rc : 0 };
}

/**
 * BPF_MAP_LOOKUP_BATCH: up to `count` entries after position `inBatch` (null: from the start) into
 * `keys`/`values` (count × key / value size); the next position goes to `outBatch` (hash maps: a bucket
 * index, other maps: a key; give it max(key size, 8) bytes). ENOENT = the end of the map was reached.
 */
export function mapLookupBatch(fd: number, inBatch: Buffer | null, outBatch: Buffer, keys: Buffer, values: Buffer, count: number): BatchStep {
  const n = [count];
  return batchStep(f.lookup_batch(fd, inBatch, outBatch, keys, values, n, batchOpts()) as number, n);
}

/** BPF_MAP_UPDATE_BATCH (BPF_ANY) of `count` entries packed in `keys`/`values`; stops at the first failing one. */
export function mapUpdateBatch(fd: number, keys: Buffer, values: Buffer, count: number): BatchStep {
  const n = [count];
  return batchStep(f.update_batch(fd, keys, values, n, batchOpts()) as number, n);
}

/** BPF_MAP_DELETE_BATCH of `count` keys packed in `keys`; stops at the first failing one (ENOENT: absent). */
export function mapDeleteBatch(fd: number, keys: Buffer, count: number): BatchStep {
  const n = [count];
  return batchStep(f.delete_batch(fd, keys, n, batchOpts()) as number, n);
}

export const BPF_MAP_TYPE_HASH = 1;
export const BPF_MAP_TYPE_ARRAY = 2;
export const BPF_MAP_TYPE_PERCPU_HASH = 5;
export const BPF_MAP_TYPE_LRU_HASH = 9;
export const BPF_MAP_TYPE_LPM_TRIE = 11;
export const BPF_MAP_TYPE_DEVMAP_HASH = 25;
export const BPF_F_NO_PREALLOC = 1;

/** Creates an unpinned map (tests; the agent's maps come from the objects); returns its fd, to be closed with closeFd. */
export function mapCreate(type: number, name: string, keySize: number, valueSize: number, maxEntries: number, mapFlags = 0): number {
  const opts = {
    sz: koffi.sizeof(MapCreateOpts), btf_fd: 0, btf_key_type_id: 0, btf_value_type_id: 0, btf_vmlinux_value_type_id: 0,
    inner_map_fd: 0, map_flags: mapFlags, map_extra: 0, numa_node: 0, map_ifindex: 0,
  };
  return check(`bpf_map_create(${name})`, f.map_create(type, name, keySize, valueSize, maxEntries, opts) as number);
}

export const possibleCpus = (): number => check('libbpf_num_possible_cpus', f.num_possible_cpus() as number);

/** Opens a map by kernel id (e.g. an inner map of a map-in-map, whose userspace lookup returns the id); returns its fd. */
export function mapFdById(id: number): number {
  return check(`bpf_map_get_fd_by_id(${id})`, f.map_fd_by_id(id) as number);
}

/** Opens a pinned object (map or program); returns its fd. */
export function objGet(path: string): number {
  return check(`bpf_obj_get(${path})`, f.obj_get(path) as number);
}

export function objPin(fd: number, path: string): void {
  check(`bpf_obj_pin(${path})`, f.obj_pin(fd, path) as number);
}

/** The kernel id of a loaded program (struct bpf_prog_info: type u32, id u32, …). */
export function progId(fd: number): number {
  const info = Buffer.alloc(8);
  const len = [8];
  check('bpf_obj_get_info_by_fd', f.obj_info(fd, info, len) as number);
  return info.readUInt32LE(4);
}

export function closeFd(fd: number): void {
  if (fd >= 0) f.closeFd(fd);
}

export const BPF_TC_INGRESS = 1;
export const BPF_TC_EGRESS = 2;
export const BPF_TC_F_REPLACE = 1;

const hook = (ifindex: number, point: number) => ({ sz: koffi.sizeof(TcHook), ifindex, attach_point: point, parent: 0 });

/** Creates the clsact qdisc of a device; returns false if it already existed. */
export function tcHookCreate(ifindex: number): boolean {
  const rc = f.tc_hook_create(hook(ifindex, BPF_TC_INGRESS)) as number;
  if (rc === -17) return false;
  check(`bpf_tc_hook_create(ifindex ${ifindex})`, rc);
  return true;
}

/** Removes the whole clsact qdisc (ingress and egress) of a device. */
export function tcHookDestroy(ifindex: number): void {
  const rc = f.tc_hook_destroy(hook(ifindex, BPF_TC_INGRESS | BPF_TC_EGRESS)) as number;
  if (rc === -2 || rc === -19 || rc === -22) return;
  check(`bpf_tc_hook_destroy(ifindex ${ifindex})`, rc);
}

export interface TcFilterRef { handle: number; priority: number }

/** Attaches (or replaces) a direct-action filter (ingress unless `point` says egress); returns the prog id now attached. */
export function tcAttach(ifindex: number, progFd: number, ref: TcFilterRef, point = BPF_TC_INGRESS): number {
  const opts = { sz: koffi.sizeof(TcOpts), prog_fd: progFd, flags: BPF_TC_F_REPLACE, prog_id: 0, handle: ref.handle, priority: ref.priority };
  check(`bpf_tc_attach(ifindex ${ifindex})`, f.tc_attach(hook(ifindex, point), opts) as number);
  return opts.prog_id;
}

/** The prog id attached at {handle, priority} on ingress (or `point`), or undefined. */
export function tcQuery(ifindex: number, ref: TcFilterRef, point = BPF_TC_INGRESS): number | undefined {
  const opts = { sz: koffi.sizeof(TcOpts), prog_fd: 0, flags: 0, prog_id: 0, handle: ref.handle, priority: ref.priority };
  const rc = f.tc_query(hook(ifindex, point), opts) as number;
  if (rc === -2 || rc === -22 || rc === -19) return undefined;
  check(`bpf_tc_query(ifindex ${ifindex})`, rc);
  return opts.prog_id;
}

export function tcDetach(ifindex: number, ref: TcFilterRef, point = BPF_TC_INGRESS): void {
  const opts = { sz: koffi.sizeof(TcOpts), prog_fd: 0, flags: 0, prog_id: 0, handle: ref.handle, priority: ref.priority };
  const rc = f.tc_detach(hook(ifindex, point), opts) as number;
  if (rc === -2 || rc === -22 || rc === -19) return;
  check(`bpf_tc_detach(ifindex ${ifindex})`, rc);
}

export interface TestRunResult {
  retval: number;
  data: Buffer;
}

/** BPF_PROG_TEST_RUN of a TC program on one frame (runs in the current netns; ifindex 1 = lo). */
export function testRun(progFd: number, frame: Buffer): TestRunResult {
  const outSize = Math.max(frame.length + 256, 256);
  const inPtr = koffi.alloc('uint8_t', frame.length);
  const outPtr = koffi.alloc('uint8_t', outSize);
  try {
    Buffer.from(koffi.view(inPtr, frame.length)).set(frame);
    const opts = {
      sz: koffi.sizeof(TestRunOpts), data_in: inPtr, data_out: outPtr, data_size_in: frame.length, data_size_out: outSize,
      ctx_in: null, ctx_out: null, ctx_size_in: 0, ctx_size_out: 0, retval: 0, repeat: 1, duration: 0, flags: 0, cpu: 0, batch_size: 0,
    };
    check('bpf_prog_test_run_opts', f.test_run(progFd, opts) as number);
    const data = Buffer.from(Buffer.from(koffi.view(outPtr, outSize)).subarray(0, opts.data_size_out));
    return { retval: opts.retval, data };
  } finally {
    koffi.free(inPtr);
    koffi.free(outPtr);
  }
}

/** A BPF ring buffer being read: consume() takes every record there is now, never waits. */
export interface RingReader {
  /** Calls the record callback once per available record; returns how many. */
  consume(): number;
  close(): void;
}

/**
 * Reads a BPF_MAP_TYPE_RINGBUF map (its fd; libbpf maps the ring, the fd may be closed afterwards) with
 * `onRecord` called for each record, synchronously inside consume(), with a copy of its bytes (the ring's
 * memory is handed back to the kernel when the callback returns). Never ring_buffer__poll: epoll_wait
 * would block Node's event loop; the caller consumes from a timer instead.
 */
export function ringBufferOpen(fd: number, onRecord: (data: Buffer) => void): RingReader {
  let failure: unknown;
  const cb = koffi.register((_ctx: unknown, data: unknown, size: number | bigint) => {
    try {
      onRecord(Buffer.from(koffi.view(data, Number(size)) as ArrayBuffer));
    } catch (err) {
      failure ??= err; // thrown again from consume(): a JS exception must not unwind through libbpf
      return -1;
    }
    return 0;
  }, koffi.pointer(sampleFn));
  drainMessages();
  const rb = f.ring_new(fd, cb, null, null);
  if (!rb) {
    koffi.unregister(cb);
    throw new BpfError('ring_buffer__new', koffi.errno() || 22, detail());
  }
  let open = true;
  return {
    consume() {
      if (!open) return 0;
      const n = f.ring_consume(rb) as number;
      if (failure) {
        const err = failure;
        failure = undefined;
        throw err;
      }
      return check('ring_buffer__consume', n);
    },
    close() {
      if (!open) return;
      open = false;
      f.ring_free(rb);
      koffi.unregister(cb);
    },
  };
}

// In a node's namespace (TC hooks, ifindexes): util/libc.ts, shared with the peer probe's socket.
export { inNetns } from '../../util/libc.js';
