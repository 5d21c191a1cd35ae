/**
 * loader.ts: makes sure the two TC programs are loaded and pinned under <bpffs>/vxmesh/ with the maps
 * they share, reusing what a previous agent pinned. Programs are pinned as prog_from_vm and
 * prog_from_tunnel; the build's hash is kept in vxm_config.object_hash, so a restarted agent reloads
 * only when the objects changed (then re-attaching with replace swaps programs without a gap).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpfError } from '../../errors.js';
import { decode, u32 } from './abi.js';
import * as bpf from './libbpf.js';
import { MAP_SIZES } from './maps.js';
import { names } from '../names.js';

export const PROGRAMS = {
  fromVm: { object: 'vxm_from_vm.bpf.o', program: 'vxm_from_vm', pin: 'prog_from_vm' },
  fromTunnel: { object: 'vxm_from_tunnel.bpf.o', program: 'vxm_from_tunnel', pin: 'prog_from_tunnel' },
  toPort: { object: 'vxm_to_port.bpf.o', program: 'vxm_to_port', pin: 'prog_to_port' },
} as const;
export type ProgramName = keyof typeof PROGRAMS;

/** Directory holding the compiled objects: $VXMESH_BPF_DIR or <package>/build/out. */
export function objectDir(): string {
  if (process.env.VXMESH_BPF_DIR) return process.env.VXMESH_BPF_DIR;
  // src/dataplane/bpf/loader.ts and dist/dataplane/bpf/loader.js are both three levels below the root.
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../build/out');
}

/** 48-bit hash of both objects (fits a JS number; stored as u64). */
export function objectHash(dir = objectDir()): number {
  const h = crypto.createHash('sha256');
  for (const p of Object.values(PROGRAMS)) h.update(fs.readFileSync(path.join(dir, p.object)));
  return parseInt(h.digest('hex').slice(0, 12), 16);
}

export interface LoadedPrograms {
  ids: Record<ProgramName, number>;
  hash: number;
  /** True when this call loaded (new) programs rather than reusing pinned ones. */
  loaded: boolean;
}

function pinnedHash(pinDir: string): number | undefined {
  const p = path.join(pinDir, 'vxm_config');
  if (!fs.existsSync(p)) return undefined;
  const fd = bpf.objGet(p);
  try {
    const v = bpf.mapLookup(fd, u32(0), MAP_SIZES.vxm_config.value);
    return v ? Number(decode<{ object_hash: number | bigint }>('vxm_config', v).object_hash) : undefined;
  } finally {
    bpf.closeFd(fd);
  }
}

function pinnedIds(pinDir: string): Record<ProgramName, number> | undefined {
  const ids = {} as Record<ProgramName, number>;
  for (const [name, p] of Object.entries(PROGRAMS) as Array<[ProgramName, (typeof PROGRAMS)[ProgramName]]>) {
    const file = path.join(pinDir, p.pin);
    if (!fs.existsSync(file)) return undefined;
    const fd = bpf.objGet(file);
    try {
      ids[name] = bpf.progId(fd);
    } finally {
      bpf.closeFd(fd);
    }
  }
  return ids;
}

/**
 * Test knob, for fault-injection tests only: `VXMESH_TEST_MAP_MAX_ENTRIES=vxm_endpoints=4,vxm_arp=8` creates
 * those maps that small (when they are created, not when pinned ones are reused), so that a test can fill one.
 */
export const TEST_MAX_ENTRIES_ENV = 'VXMESH_TEST_MAP_MAX_ENTRIES';

export function testMaxEntries(env = process.env[TEST_MAX_ENTRIES_ENV]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of (env ?? '').split(',').filter(Boolean)) {
    const [name, n] = part.split('=');
    if (name && Number.isInteger(Number(n)) && Number(n) > 0) out[name.trim()] = Number(n);
  }
  return out;
}

/** Opens, loads (maps pinned by name under pinDir, reused when present) and pins one object's program. */
function loadOne(dir: string, pinDir: string, p: (typeof PROGRAMS)[ProgramName]): number {
  const obj = bpf.openObject(path.join(dir, p.object));
  try {
    const limits = testMaxEntries();
    for (const { name, map } of bpf.listMaps(obj)) {
      bpf.setMapPinPath(map, path.join(pinDir, name));
      if (limits[name] !== undefined) bpf.setMapMaxEntries(map, limits[name]);
    }
    bpf.loadObject(obj, p.object);
    const prog = bpf.findProgram(obj, p.program);
    const pin = path.join(pinDir, p.pin);
    fs.rmSync(pin, { force: true });
    bpf.pinProgram(prog, pin);
    return bpf.progId(bpf.programFd(prog));
  } finally {
    bpf.closeObject(obj);
  }
}

/**
 * Ensures both programs are pinned and current. When pinned maps are incompatible with the new
 * objects (ABI change), they are unpinned and recreated (the next map reconcile refills them).
 */
export function ensurePrograms(pinDir: string, dir = objectDir()): LoadedPrograms {
  const hash = objectHash(dir);
  fs.mkdirSync(pinDir, { recursive: true });
  if (pinnedHash(pinDir) === hash) {
    const ids = pinnedIds(pinDir);
    if (ids) return { ids, hash, loaded: false };
  }
  const load = () => ({
    fromVm: loadOne(dir, pinDir, PROGRAMS.fromVm),
    fromTunnel: loadOne(dir, pinDir, PROGRAMS.fromTunnel),
    toPort: loadOne(dir, pinDir, PROGRAMS.toPort),
  });
  try {
    return { ids: load(), hash, loaded: true };
  } catch (err) {
    if (!(err instanceof BpfError) || !/reuse|incompatible/i.test(err.message)) throw err;
    for (const m of Object.keys(MAP_SIZES)) fs.rmSync(path.join(pinDir, m), { force: true });
    return { ids: load(), hash, loaded: true };
  }
}

/**
 * Do the pinned programs come from this build (vxm_config's object hash equals the objects') with every
 * program pinned? Then the agent needs no load at all: it reuses them. False on any read error.
 */
export function pinnedProgramsCurrent(bpffs = '/sys/fs/bpf', dir = objectDir()): boolean {
  const pinDir = names.pinDir(bpffs);
  try {
    return pinnedHash(pinDir) === objectHash(dir) && pinnedIds(pinDir) !== undefined;
  } catch {
    return false;
  }
}

/** Opens a pinned program; the caller closes the fd. */
export function openPinnedProgram(pinDir: string, name: ProgramName): number {
  return bpf.objGet(path.join(pinDir, PROGRAMS[name].pin));
}
