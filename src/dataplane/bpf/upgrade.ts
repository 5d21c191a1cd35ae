/**
 * upgrade.ts: loading a new build's programs make-before-break (the side effects of upgrade-plan.ts).
 * 1. Plan per map (reuse / migrate / recreate / create / drop) from the pinned maps' info and the objects'
 *    declarations; the plan is logged with every differing field.
 * 2. Load the three objects with every map pinned under the staging directory <pinDir>/staging: reused
 *    maps are the pinned ones (bpf_map__reuse_fd), the others are created there, new and not yet used by
 *    any attached program. The new programs are pinned there too.
 * 3. Carry state into the new maps (`copy` converters), let the caller fill them completely from the
 *    intent (`fill`: the agent's desired tables and flow-table shares), then carry the flow table
 *    (`ct-shares`: after the shares exist).
 * 4. Move every staging pin over its real name (rename on bpffs: the pin switches in one step) and unpin
 *    maps no longer declared. Until here nothing the running programs use has changed: a failure leaves
 *    the old programs and maps as they were (the staging directory is removed).
 * The caller then replaces the programs on every attachment (attach.ts: TC replace on the same
 * handle/priority, so the old program runs until the new one takes over) and calls settle(), which carries
 * the flows the old programs recorded meanwhile and closes the old maps (the kernel frees them once no
 * program holds them). Counters (vxm_stats, vxm_pol_stats) are carried when their layout is unchanged
 * (reused) and reset otherwise.
 * VXMESH_UPGRADE_CARRY=0 carries nothing (the test's positive control: the old behaviour).
 */
import fs from 'node:fs';
import path from 'node:path';
import { sizeOf } from './abi.js';
import { dumpMap, updateEntries } from './batch.js';
import * as bpf from './libbpf.js';
import { describeStep, flowsPerShare, planUpgrade, type MapStep } from './upgrade-plan.js';

/** bpffs refuses names with a dot; maps are vxm_*, programs prog_*. */
export const STAGING_DIR = 'staging';
export const CARRY_ENV = 'VXMESH_UPGRADE_CARRY';

export interface ObjectSpec { object: string; program: string; pin: string }

/** Fills the new maps, pinned by name under `stagingDir` (a complete set), before any program uses them. */
export type FillMaps = (stagingDir: string) => void;

export interface UpgradeResult {
  ids: Record<string, number>;
  steps: MapStep[];
  /** Flows carried (ct-shares) before the swap. */
  carriedFlows: number;
  /** After the programs were replaced on every attachment: carry what the old programs recorded meanwhile, close the old maps. */
  settle(): number;
}

/** The pinned maps (every pin that is not a program), opened; the caller closes them. */
function openPinnedMaps(pinDir: string): Map<string, { fd: number; shape: bpf.MapShape }> {
  const out = new Map<string, { fd: number; shape: bpf.MapShape }>();
  for (const e of fs.readdirSync(pinDir, { withFileTypes: true })) {
    if (!e.isFile() || e.name.startsWith('prog_')) continue;
    const fd = bpf.objGet(path.join(pinDir, e.name));
    try {
      out.set(e.name, { fd, shape: bpf.mapShape(fd) });
    } catch (err) {
      bpf.closeFd(fd);
      for (const m of out.values()) bpf.closeFd(m.fd);
      throw err;
    }
  }
  return out;
}

/** Every entry of `from` written into `to` (same key and value sizes); returns the count written. */
function copyEntries(from: number, to: number, keySize: number, valueSize: number): number {
  const all = dumpMap(from, keySize, valueSize);
  return all.count - updateEntries(to, keySize, valueSize, all).length;
}

/** The old flat flow table into the new per-network shares (only networks that have one). */
function carryFlows(oldCt: number, newOuter: number): number {
  const ks = sizeOf('vxm_ct_key');
  const vs = sizeOf('vxm_ct_entry');
  const shares = new Map<number, number>();
  for (const k of bpf.mapKeys(newOuter, 4)) {
    const id = bpf.mapLookup(newOuter, k, 4);
    if (id) shares.set(k.readUInt32LE(0), id.readUInt32LE(0));
  }
  const all = dumpMap(oldCt, ks, vs);
  let carried = 0;
  for (const [vni, g] of flowsPerShare(all.keys, all.values, all.count, ks, vs, new Set(shares.keys()))) {
    const fd = bpf.mapFdById(shares.get(vni)!);
    try {
      // A share holds VXM_CT_SHARE flows: the newest fit, the rest are refused (E2BIG) and checked anew.
      carried += g.keys.length - updateEntries(fd, ks, vs, { count: g.keys.length, keys: Buffer.concat(g.keys), values: Buffer.concat(g.values) }).length;
    } finally {
      bpf.closeFd(fd);
    }
  }
  return carried;
}

/** Pinned map fds by name -> close all. */
const closeAll = (m: Map<string, { fd: number }>) => { for (const v of m.values()) bpf.closeFd(v.fd); };

/**
 * Loads `objects` from `dir` make-before-break (see the header). `limits`: max entries per map name (test knob).
 * `log` receives one line per map step that is not a plain reuse.
 */
export function upgradePrograms(
  pinDir: string, dir: string, objects: Record<string, ObjectSpec>,
  opts: { fill?: FillMaps; limits?: Record<string, number>; log?: (line: string) => void },
): UpgradeResult {
  const staging = path.join(pinDir, STAGING_DIR);
  fs.rmSync(staging, { recursive: true, force: true }); // a staging left by an interrupted upgrade was never used
  fs.mkdirSync(staging, { recursive: true });
  const carry = process.env[CARRY_ENV] !== '0';
  const pinned = openPinnedMaps(pinDir);
  const opened: Array<{ name: string; spec: ObjectSpec; obj: bpf.BpfObjectPtr }> = [];
  let done = false;
  try {
    for (const [name, spec] of Object.entries(objects)) opened.push({ name, spec, obj: bpf.openObject(path.join(dir, spec.object)) });
    const declared: Record<string, bpf.MapShape> = {};
    for (const o of opened) {
      for (const { name, map } of bpf.listMaps(o.obj)) {
        if (opts.limits?.[name] !== undefined) bpf.setMapMaxEntries(map, opts.limits[name]);
        declared[name] ??= bpf.declaredMapShape(map);
      }
    }
    const shapes = Object.fromEntries([...pinned].map(([n, m]) => [n, m.shape]));
    const steps = planUpgrade(shapes, declared, { ctKey: sizeOf('vxm_ct_key'), ctEntry: sizeOf('vxm_ct_entry') });
    for (const s of steps) if (s.action !== 'reuse' && s.action !== 'create') opts.log?.(describeStep(s));
    const reused = new Set(steps.filter((s) => s.action === 'reuse').map((s) => s.map));

    // 2. Load against the staging pins: the first object creates (or adopts the pinned map), the next reuse the pin.
    const ids: Record<string, number> = {};
    for (const o of opened) {
      for (const { name, map } of bpf.listMaps(o.obj)) {
        const pin = path.join(staging, name);
        bpf.setMapPinPath(map, pin);
        if (reused.has(name) && !fs.existsSync(pin)) bpf.reuseMapFd(map, pinned.get(name)!.fd);
      }
      bpf.loadObject(o.obj, o.spec.object);
      const prog = bpf.findProgram(o.obj, o.spec.program);
      bpf.pinProgram(prog, path.join(staging, o.spec.pin));
      ids[o.name] = bpf.progId(bpf.programFd(prog));
    }

    // 3. State worth keeping, the intent, then the flows (into the shares the fill created).
    const newFd = (map: string) => bpf.objGet(path.join(staging, map));
    const withNew = <T>(map: string, fn: (fd: number) => T): T => {
      const fd = newFd(map);
      try {
        return fn(fd);
      } finally {
        bpf.closeFd(fd);
      }
    };
    if (carry) {
      for (const s of steps) {
        if (s.action !== 'migrate' || s.converter !== 'copy') continue;
        const { keySize, valueSize } = pinned.get(s.map)!.shape;
        withNew(s.map, (fd) => copyEntries(pinned.get(s.map)!.fd, fd, keySize, valueSize));
      }
    }
    opts.fill?.(staging);
    const flowSteps = carry ? steps.filter((s) => s.action === 'migrate' && s.converter === 'ct-shares') : [];
    const carryAllFlows = () => flowSteps.reduce((n, s) => n + withNew(s.map, (fd) => carryFlows(pinned.get(s.map)!.fd, fd)), 0);
    const carriedFlows = carryAllFlows();

    // 4. The switch of pins; old maps no longer declared are unpinned (programs still holding them keep them).
    for (const name of fs.readdirSync(staging)) fs.renameSync(path.join(staging, name), path.join(pinDir, name));
    for (const s of steps) if (s.action === 'drop') fs.rmSync(path.join(pinDir, s.map), { force: true });
    fs.rmSync(staging, { recursive: true, force: true });
    done = true;
    const newPins = (map: string) => path.join(pinDir, map);
    let settled = false;
    return {
      ids, steps, carriedFlows,
      settle: () => {
        if (settled) return 0;
        settled = true;
        try {
          return flowSteps.reduce((n, s) => {
            const fd = bpf.objGet(newPins(s.map));
            try {
              return n + carryFlows(pinned.get(s.map)!.fd, fd);
            } finally {
              bpf.closeFd(fd);
            }
          }, 0);
        } finally {
          closeAll(pinned);
        }
      },
    };
  } finally {
    for (const o of opened) bpf.closeObject(o.obj);
    if (!done) {
      fs.rmSync(staging, { recursive: true, force: true });
      closeAll(pinned);
    }
  }
}
