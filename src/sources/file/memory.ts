/**
 * What the file source remembers between reads — and, in a small JSON file, across agent restarts: the
 * order in which it first saw each object (files have no creationTimestamp, and conflicts between objects
 * never seen good are decided oldest first) and the last good version of every object (so that after a
 * restart an edited object still loses to the untouched one, and still serves its last good version).
 *
 * The file lives in `<state dir>/.vxmesh/<node>.json`: next to the objects it is about, hidden from the
 * YAML reader and the directory watch, one per agent (agents sharing a state dir never write one file).
 * An agent without a file of its own (a new node) starts from the most recently written one of another
 * agent, so it decides conflicts the way the running nodes do.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { schemasByKind, type Kind } from '../../model/schema.js';
import type { LastGood } from '../validate.js';
import type { FirstSeen } from '../first-seen.js';
import { writeFileAtomic } from './files.js';

export { newFirstSeen, noteFirstSeen, type FirstSeen } from '../first-seen.js';

export function memoryFileOf(stateDir: string, node: string): string {
  return path.join(stateDir, '.vxmesh', `${node}.json`);
}

const fileSchema = z.object({
  version: z.literal(1),
  next: z.number().int().min(1),
  firstSeen: z.record(z.number().int()),
  lastGood: z.record(z.unknown()),
});

/** This node's remembered state, else the newest other agent's, else nothing (a fresh start). */
export async function readMemory(stateDir: string, node: string): Promise<(Remembered & { from: string }) | undefined> {
  const own = memoryFileOf(stateDir, node);
  const mine = await readMemoryFile(own);
  if (mine) return { ...mine, from: own };
  const others: Array<{ file: string; mtime: number }> = [];
  try {
    for (const f of await readdir(path.dirname(own))) {
      if (!f.endsWith('.json') || f === path.basename(own)) continue;
      const file = path.join(path.dirname(own), f);
      others.push({ file, mtime: (await stat(file)).mtimeMs });
    }
  } catch {
    return undefined;
  }
  for (const { file } of others.sort((a, b) => b.mtime - a.mtime)) {
    const theirs = await readMemoryFile(file);
    if (theirs) return { ...theirs, from: file };
  }
  return undefined;
}

interface Remembered { firstSeen: FirstSeen; lastGood: LastGood; dropped: number }

/** The remembered state, or nothing when the file is missing or unreadable (a fresh start). */
export async function readMemoryFile(file: string): Promise<Remembered | undefined> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) return undefined;
  const lastGood: LastGood = new Map();
  let dropped = 0;
  // Re-validated: a version written by an older build must still be a valid object of this one.
  for (const [id, obj] of Object.entries(parsed.data.lastGood)) {
    const schema = schemasByKind[id.split('/')[0] as Kind];
    const ok = schema?.safeParse(obj);
    if (ok?.success) lastGood.set(id, ok.data);
    else dropped++;
  }
  return { firstSeen: { rank: new Map(Object.entries(parsed.data.firstSeen)), next: parsed.data.next }, lastGood, dropped };
}

/** VxlanStatuses are left out: agents rewrite them every pass and nothing conflicts over them. */
export function memoryJson(firstSeen: FirstSeen, lastGood: LastGood): string {
  const kept = [...lastGood].filter(([id]) => !id.startsWith('VxlanStatus/'));
  return JSON.stringify({ version: 1, next: firstSeen.next, firstSeen: Object.fromEntries(firstSeen.rank), lastGood: Object.fromEntries(kept) });
}

export async function writeMemoryFile(file: string, json: string): Promise<void> {
  await writeFileAtomic(file, json);
}
