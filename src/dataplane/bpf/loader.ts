/**
 * loader.ts: makes sure the TC programs are loaded and pinned under <bpffs>/vxmesh/ with the maps
 * they share, reusing what a previous agent pinned. Programs are pinned as prog_from_vm, prog_from_tunnel,
 * prog_to_port and prog_from_uplink; the build's hash is kept in vxm_config.object_hash, so a restarted agent reloads
 * only when the objects changed, make-before-break (upgrade.ts; re-attaching with replace swaps programs
 * without a gap).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode, u32 } from './abi.js';
import * as bpf from './libbpf.js';
import { MAP_SIZES } from './maps.js';
import { names } from '../names.js';
import { upgradePrograms } from './upgrade.js';
import type { MapStep } from './upgrade-plan.js';

export const PROGRAMS = {
  fromVm: { object: 'vxm_from_vm.bpf.o', program: 'vxm_from_vm', pin: 'prog_from_vm' },
  fromTunnel: { object: 'vxm_from_tunnel.bpf.o', program: 'vxm_from_tunnel', pin: 'prog_from_tunnel' },
  toPort: { object: 'vxm_to_port.bpf.o', program: 'vxm_to_port', pin: 'prog_to_port' },
  fromUplink: { object: 'vxm_from_uplink.bpf.o', program: 'vxm_from_uplink', pin: 'prog_from_uplink' },
} as const;
export type ProgramName = keyof typeof PROGRAMS;

/** Directory holding the compiled objects: $VXMESH_BPF_DIR or <package>/build/out. */
export function objectDir(): string {
  if (process.env.VXMESH_BPF_DIR) return process.env.VXMESH_BPF_DIR;
  // src/dataplane/bpf/loader.ts and dist/dataplane/bpf/loader.js are both three levels below the root.
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../build/out');
}

/** 48-bit hash of all objects (fits a JS number; stored as u64). */
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
  /** What the load did with each map (empty when nothing was loaded). */
  steps: MapStep[];
  /** Call once the programs were replaced on every attachment: carries late flows, closes the old maps; returns flows carried. */
  settle(): number;
}

/** Fills the new maps (pinned under stagingDir) from the intent; `hash` is the new build's. */
export type FillMaps = (stagingDir: string, hash: number) => void;

function pinnedHash(pinDir: string): number | undefined {
  const p = path.join(pinDir, 'vxm_config');
  if (!fs.existsSync(p)) return undefined;
  const fd = bpf.objGet(p);
  try {
    if (bpf.mapShape(fd).valueSize !== MAP_SIZES.vxm_config.value) return undefined; // another ABI: not this build
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

/**
 * Ensures the programs are pinned and current. A new build is loaded make-before-break (upgrade.ts): its
 * maps are reused when compatible, else created beside the old ones, carried over (flow table) and filled
 * by `fill` from the intent before any program uses them; the pins then switch to the new maps and
 * programs. The caller replaces the programs on every attachment, then calls settle().
 */
export function ensurePrograms(pinDir: string, dir = objectDir(), fill?: FillMaps, log?: (line: string) => void): LoadedPrograms {
  const hash = objectHash(dir);
  fs.mkdirSync(pinDir, { recursive: true });
  if (pinnedHash(pinDir) === hash) {
    const ids = pinnedIds(pinDir);
    if (ids) return { ids, hash, loaded: false, steps: [], settle: () => 0 };
  }
  const r = upgradePrograms(pinDir, dir, PROGRAMS, { fill: fill && ((staging) => fill(staging, hash)), limits: testMaxEntries(), log });
  return { ids: r.ids as Record<ProgramName, number>, hash, loaded: true, steps: r.steps, settle: r.settle };
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
