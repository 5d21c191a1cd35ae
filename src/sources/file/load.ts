/**
 * One read of the state directory: every YAML file parsed, then one snapshot built from all documents.
 * A file that does not parse keeps contributing its last good documents (so a half-written or broken
 * file never makes objects vanish); an invalid object keeps its last good version (buildSnapshot).
 */
import { readFile } from 'node:fs/promises';
import type { VxmeshError } from '../../errors.js';
import { SourceError } from '../../errors.js';
import type { Snapshot } from '../../model/schema.js';
import { buildSnapshot, docId, parseDocuments, type LastGood } from '../validate.js';
import { listYamlFiles } from './files.js';
import { newFirstSeen, noteFirstSeen, type FirstSeen } from '../first-seen.js';

export interface LoadMemory {
  /** Last documents of each file that parsed cleanly. */
  docsByFile: Map<string, unknown[]>;
  lastGood: LastGood;
  /** The order in which objects were first seen (files in name order, documents in file order). */
  firstSeen: FirstSeen;
}

export interface LoadResult {
  snapshot: Snapshot;
  errors: VxmeshError[];
  files: string[];
}

export function newLoadMemory(): LoadMemory {
  return { docsByFile: new Map(), lastGood: new Map(), firstSeen: newFirstSeen() };
}

export async function loadStateDir(dir: string, memory: LoadMemory): Promise<LoadResult> {
  const files = await listYamlFiles(dir);
  const errors: VxmeshError[] = [];
  const docs: unknown[] = [];
  const seen = new Set<string>();
  for (const file of files) {
    seen.add(file);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (cause) {
      // Removed between listing and reading: treat as gone.
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') {
        seen.delete(file);
        continue;
      }
      errors.push(new SourceError(`${file}: cannot read: ${(cause as Error).message}`, { cause }));
      docs.push(...(memory.docsByFile.get(file) ?? []));
      continue;
    }
    const parsed = parseDocuments(text, file);
    if (parsed.errors.length) {
      errors.push(...parsed.errors);
      docs.push(...(memory.docsByFile.get(file) ?? []));
      continue;
    }
    memory.docsByFile.set(file, parsed.docs);
    docs.push(...parsed.docs);
  }
  for (const f of [...memory.docsByFile.keys()]) if (!seen.has(f)) memory.docsByFile.delete(f);
  noteFirstSeen(memory.firstSeen, docs.map(docId).filter((id): id is string => id !== undefined));
  const built = buildSnapshot(docs, memory.lastGood, { firstSeen: memory.firstSeen.rank });
  memory.lastGood = built.lastGood;
  errors.push(...built.errors);
  return { snapshot: built.snapshot, errors, files };
}
