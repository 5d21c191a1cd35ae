/**
 * What a source remembers between reads — and, in a small JSON file, across agent restarts: the order in
 * which it first saw each object (conflicts between objects never seen good are decided oldest first, and
 * files have no creationTimestamp while Kubernetes' has one-second resolution) and the last good version of
 * every object (so that after a restart an edited object still loses to the untouched one, and still serves
 * its last good version).
 *
 * The file is `<dir>/.vxmesh/<node>.json`, one per agent (agents sharing a directory never write one file).
 * The file source keeps it in its state directory, next to the objects it is about, hidden from the YAML
 * reader and the directory watch; an agent without a file of its own there (a new node) starts from the
 * most recently written one of another agent, so it decides conflicts the way the running nodes do. The
 * Kubernetes source keeps it in the agent's --state-dir (node-local), its own file only.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { schemasByKind, type Kind } from '../model/schema.js';
import type { LastGood } from './validate.js';
import type { FirstSeen } from './first-seen.js';
import { writeFileAtomic } from './file/files.js';

export { newFirstSeen, noteFirstSeen, type FirstSeen } from './first-seen.js';

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

export interface Remembered { firstSeen: FirstSeen; lastGood: LastGood; dropped: number }

/** The remembered state, or nothing when the file is missing or unreadable (a fresh start). */
export async function readMemoryFile(file: string): Promise<Remembered | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  return parseMemory(text);
}

/**
 * Pure: the remembered state in `text` (memoryJson's output), or nothing when it is not that; last good
 * versions that are no longer valid objects of this build are dropped (and counted).
 */
export function parseMemory(text: string): Remembered | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
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

/** Pure: the file's text. VxlanStatuses are left out: agents rewrite them every pass and nothing conflicts over them. */
export function memoryJson(firstSeen: FirstSeen, lastGood: LastGood): string {
  const kept = [...lastGood].filter(([id]) => !id.startsWith('VxlanStatus/'));
  return JSON.stringify({ version: 1, next: firstSeen.next, firstSeen: Object.fromEntries(firstSeen.rank), lastGood: Object.fromEntries(kept) });
}

export async function writeMemoryFile(file: string, json: string): Promise<void> {
  await writeFileAtomic(file, json);
}

export interface MemoryWriter {
  /** The file already holds this state (restored from it): nothing to write until it changes. */
  holds(firstSeen: FirstSeen, lastGood: LastGood): void;
  /** Writes the state when it differs from the last one written; serialised, never rejects (errors go to onError). */
  save(firstSeen: FirstSeen, lastGood: LastGood): Promise<void>;
}

/** Keeps `file` up to date with a source's remembered state, atomically, writing only what changed. */
export function memoryWriter(file: string, onError: (err: Error) => void): MemoryWriter {
  let written = '';
  let chain = Promise.resolve();
  return {
    holds: (firstSeen, lastGood) => void (written = memoryJson(firstSeen, lastGood)),
    save(firstSeen, lastGood) {
      const json = memoryJson(firstSeen, lastGood);
      if (json === written) return chain;
      written = json;
      chain = chain.then(() => writeMemoryFile(file, json)).catch((err: Error) => {
        written = ''; // written again on the next save
        onError(err);
      });
      return chain;
    },
  };
}
