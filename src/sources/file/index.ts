/**
 * File source: a state directory D (or a file in it) holding cluster objects as YAML. Every `*.yaml`
 * under D is read (D/status/ included, where each agent publishes its VxlanStatus); changes are noticed by
 * fs.watch and, as a fallback, a 1 s poll of file signatures; bursts are debounced.
 */
import { watch, type FSWatcher } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import YAML from 'yaml';
import type { Logger } from 'pino';
import type { VxlanStatus } from '../../model/schema.js';
import { emptySnapshot } from '../../model/schema.js';
import type { Source, SourceState } from '../../agent/source.js';
import { dirSignature, listYamlFiles, stateDirOf, writeFileAtomic } from './files.js';
import { loadStateDir, newLoadMemory } from './load.js';
import { memoryFileOf, memoryWriter, readMemory, type MemoryWriter } from '../memory.js';
import type { PolicyStore } from '../policy-store.js';

export { writeFileAtomic, stateDirOf, listYamlFiles } from './files.js';
export { loadStateDir, newLoadMemory } from './load.js';

export interface FileSourceOptions {
  /** `D` or `D/<file>.yaml`. */
  path: string;
  log: Logger;
  pollMs?: number;
  debounceMs?: number;
  /**
   * This agent's node: when set, the first-seen order and last good versions are kept across restarts in
   * `<state dir>/.vxmesh/<node>.json` (see memory.ts).
   */
  node?: string;
  /** Keeps the last good policies across restarts (sources/policy-store.ts); the agent passes one. */
  policyStore?: PolicyStore;
}

/** Where a node publishes its status for one cluster network. */
export function statusFile(dir: string, clusterNetwork: string, node: string): string {
  return path.join(dir, 'status', `${clusterNetwork}.${node}.yaml`);
}

export function createFileSource(opts: FileSourceOptions): Source & { dir(): Promise<string> } {
  const log = opts.log.child({ component: 'source.file' });
  const pollMs = opts.pollMs ?? 1000;
  const debounceMs = opts.debounceMs ?? 30;
  const memory = newLoadMemory();
  if (opts.policyStore) memory.lastGood = opts.policyStore.load();
  let state: SourceState = { snapshot: emptySnapshot(), errors: [], generation: 0, checkedAt: 0 };
  let dir = '';
  let lastSig = '';
  let lastJson = '';
  let kept: MemoryWriter | undefined;
  let readErrors = 0;
  let onChange: () => void = () => {};
  const watchers: FSWatcher[] = [];
  let poll: NodeJS.Timeout | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let reading: Promise<void> | undefined;
  let again = false;
  let closed = false;

  /**
   * One read. A read that fails (the directory cannot be listed) keeps the snapshot as it was and sets
   * `readError`: the agent then leaves the dataplane as it is and reports not ready, instead of applying
   * an empty snapshot. The next successful read clears it.
   */
  async function reload(): Promise<void> {
    const checkedAt = Date.now();
    let files: string[];
    let r;
    try {
      files = await listYamlFiles(dir);
      const sig = await dirSignature(files);
      if (sig === lastSig) return recovered(checkedAt);
      r = await loadStateDir(dir, memory);
      lastSig = sig;
    } catch (err) {
      const message = (err as Error).message;
      readErrors++;
      if (state.readError !== message) {
        log.error({ err: message, dir }, 'state directory read failed, snapshot kept, dataplane left as it is');
        state = { ...state, readError: message, readErrors, generation: state.generation + 1 };
        onChange();
      } else state = { ...state, readErrors };
      return;
    }
    await remember();
    opts.policyStore?.save(memory.lastGood);
    const json = JSON.stringify({ s: r.snapshot, e: r.errors.map((e) => e.message) });
    if (json === lastJson) return recovered(checkedAt);
    const prevErrors = new Set(state.errors.map((e) => e.message));
    lastJson = json;
    state = { snapshot: r.snapshot, errors: r.errors, generation: state.generation + 1, checkedAt, readErrors };
    for (const e of r.errors) {
      if (!prevErrors.has(e.message)) log.warn({ err: e.message, code: e.code, ...errorFields(e) }, 'invalid input ignored, last good version kept');
    }
    log.debug({ files: r.files.length, generation: state.generation }, 'snapshot read');
    onChange();
  }

  async function remember(): Promise<void> {
    await kept?.save(memory.firstSeen, memory.lastGood);
  }

  /** The directory reads as before: confirmed current; a read error, if any, is over. */
  function recovered(checkedAt: number): void {
    if (state.readError === undefined) {
      state.checkedAt = checkedAt;
      return;
    }
    log.info({ dir }, 'state directory readable again');
    state = { snapshot: state.snapshot, errors: state.errors, generation: state.generation + 1, checkedAt, readErrors };
    onChange();
  }

  /** Serialises reads; a trigger during a read causes one more read afterwards. */
  function trigger(): void {
    if (closed) return;
    if (reading) {
      again = true;
      return;
    }
    reading = reload()
      .catch((err) => log.error({ err: (err as Error).message }, 'state directory read failed'))
      .finally(() => {
        reading = undefined;
        if (again) {
          again = false;
          trigger();
        }
      });
  }

  function soon(): void {
    if (debounce) clearTimeout(debounce);
    debounce = setTimeout(trigger, debounceMs);
  }

  return {
    async dir() {
      return dir || stateDirOf(opts.path);
    },
    async start(cb) {
      onChange = cb;
      dir = await stateDirOf(opts.path);
      await mkdir(path.join(dir, 'status'), { recursive: true });
      if (opts.node) {
        const file = memoryFileOf(dir, opts.node);
        kept = memoryWriter(file, (err) => log.warn({ err: err.message, file }, 'cannot keep first-seen order and last good versions across restarts'));
        const restored = await readMemory(dir, opts.node);
        if (restored) {
          memory.firstSeen = restored.firstSeen;
          // the policy store's versions (read above) fill what the kept file lacks
          memory.lastGood = new Map([...memory.lastGood, ...restored.lastGood]);
          if (restored.from === file) kept.holds(restored.firstSeen, restored.lastGood);
          log.info({ file: restored.from, objects: restored.lastGood.size, dropped: restored.dropped }, 'first-seen order and last good versions restored');
        }
      }
      await reload();
      for (const d of [dir, path.join(dir, 'status')]) {
        try {
          const w = watch(d, { persistent: false }, soon);
          w.on('error', (err) => log.warn({ err: err.message, dir: d }, 'watch failed, polling only'));
          watchers.push(w);
        } catch (err) {
          log.warn({ err: (err as Error).message, dir: d }, 'watch failed, polling only');
        }
      }
      poll = setInterval(trigger, pollMs);
      poll.unref();
    },
    current: () => state,
    async publishStatus(status: VxlanStatus) {
      const d = dir || (await stateDirOf(opts.path));
      await writeFileAtomic(statusFile(d, status.status.clusterNetwork, status.status.node), YAML.stringify(status));
    },
    async close() {
      closed = true;
      if (poll) clearInterval(poll);
      if (debounce) clearTimeout(debounce);
      for (const w of watchers) w.close();
      await reading;
    },
  };
}

function errorFields(e: unknown): Record<string, unknown> {
  const o = e as { object?: unknown; field?: unknown };
  return o.object ? { object: o.object, field: o.field } : {};
}
