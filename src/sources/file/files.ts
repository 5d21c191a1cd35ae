/**
 * The state directory on disk: which files belong to it, a cheap signature to notice changes, and atomic
 * writes (temporary file + rename) so that a reader never sees half a file.
 */
import { mkdir, readdir, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Every `*.yaml` / `*.yml` under `dir` (sub-directories included, hidden files and temporaries excluded), sorted. */
export async function listYamlFiles(dir: string, depth = 3): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const full = path.join(dir, e.name);
    if (e.isDirectory() && depth > 0) out.push(...(await listYamlFiles(full, depth - 1)));
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
