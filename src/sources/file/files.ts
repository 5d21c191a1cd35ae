/**
 * The state directory on disk: which files belong to it, a cheap signature to notice changes, and atomic
 * writes (temporary file + rename) so that a reader never sees half a file.
 */
import { mkdir, readdir, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SourceError } from '../../errors.js';

export interface ListOptions {
  /** Sub-directory levels read below `dir` (default 3). */
  depth?: number;
  /** A missing `dir` lists as empty instead of failing (readers of optional directories, e.g. the lab's status/). */
  missingOk?: boolean;
}

/**
 * Every `*.yaml` / `*.yml` under `dir` (sub-directories included, hidden files and temporaries excluded), sorted.
 * A directory that cannot be read is an error (SourceError naming it), never an empty listing: an empty
 * listing is a snapshot without objects, and the agent would remove every network of the node. Only a
 * sub-directory removed between its listing and its reading counts as gone.
 */
export async function listYamlFiles(dir: string, opts: ListOptions = {}): Promise<string[]> {
  return listLevel(dir, opts.depth ?? 3, opts.missingOk === true);
}

async function listLevel(dir: string, depth: number, missingOk: boolean): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (cause) {
    if (missingOk && (cause as NodeJS.ErrnoException).code === 'ENOENT') return out;
    throw new SourceError(`state directory ${dir}: cannot list: ${(cause as Error).message}`, { cause });
  }
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory() && depth > 0) out.push(...(await listLevel(full, depth - 1, true)));
    else if (e.isFile() && /\.ya?ml$/.test(e.name)) out.push(full);
  }
  return out.sort();
}

/** name:mtime:size of every file; equal signatures mean (almost certainly) nothing changed. */
export async function dirSignature(files: string[]): Promise<string> {
  const parts: string[] = [];
  for (const f of files) {
    try {
      const s = await stat(f);
      parts.push(`${f}:${s.mtimeMs}:${s.size}:${s.ino}`);
    } catch {
      parts.push(`${f}:gone`);
    }
  }
  return parts.join('|');
}

/** Writes `text` to `file` atomically: a temporary sibling, then rename over the target. */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  await writeFile(tmp, text);
  await rename(tmp, file);
}

/** A state path may name the directory or a file in it. */
export async function stateDirOf(p: string): Promise<string> {
  try {
    const s = await stat(p);
    return s.isDirectory() ? p : path.dirname(p);
  } catch {
    return /\.ya?ml$/.test(p) ? path.dirname(p) : p;
  }
}
