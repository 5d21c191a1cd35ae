/**
 * The agent keeps the last good version of every MultiNetworkPolicy across restarts: a restarted agent
 * whose source now holds an invalid version would otherwise have nothing to fall back to but the
 * fail-closed stand-in (policy-fallback.ts), which is stricter than what the user had working. The
 * versions live in a file the agent owns on the node, `<state dir>/<node>/policies.json` (state dir:
 * `agent --state-dir`, else $VXMESH_STATE_DIR, else /var/lib/vxmesh, a hostPath in the DaemonSet; the lab
 * gives its agents /run/vxmesh/<lab>/agent-state; per node, so agents sharing a filesystem never mix), written atomically whenever they change and read once on start. Every entry is validated
 * again on load; an unreadable file or entry is logged and ignored (the stand-in still closes its VMs).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { multiNetworkPolicySchema } from '../model/schema.js';
import type { LastGood } from './validate.js';

export const STATE_DIR = process.env.VXMESH_STATE_DIR ?? '/var/lib/vxmesh';
const PREFIX = 'MultiNetworkPolicy/';

export function policyStoreFile(node: string, dir: string = STATE_DIR): string {
  return path.join(dir, node, 'policies.json');
}

/** Pure: the stored text of the policies among last good versions (stable: sorted by id). */
export function storeText(lastGood: LastGood): string {
  const policies = Object.fromEntries([...lastGood].filter(([id]) => id.startsWith(PREFIX)).sort(([a], [b]) => a.localeCompare(b)));
  return `${JSON.stringify({ version: 1, policies }, null, 1)}\n`;
}

/** Pure: stored text -> last good versions (valid entries only) and the problems found. */
export function parseStore(text: string): { lastGood: LastGood; problems: string[] } {
  const lastGood: LastGood = new Map();
  const problems: string[] = [];
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return { lastGood, problems: [`not JSON: ${(err as Error).message}`] };
  }
  const policies = (data as { policies?: unknown })?.policies;
  if (typeof policies !== 'object' || policies === null) return { lastGood, problems: ['no policies object'] };
  for (const [id, obj] of Object.entries(policies)) {
    const parsed = multiNetworkPolicySchema.safeParse(obj);
    if (id.startsWith(PREFIX) && parsed.success) lastGood.set(id, parsed.data);
    else problems.push(`${id}: not a valid MultiNetworkPolicy`);
  }
  return { lastGood, problems };
}

export interface PolicyStore {
  /** The stored last good policies (empty when there is no file yet). */
  load(): LastGood;
  /** Stores the policies among `lastGood` when they changed. Never throws (logs). */
  save(lastGood: LastGood): void;
  readonly file: string;
}

export function createPolicyStore(file: string, log: Logger): PolicyStore {
  const l = log.child({ component: 'source.policy-store' });
  let written = '';
  return {
    file,
    load() {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') l.warn({ file, err: (err as Error).message }, 'last good policies unreadable, ignored');
        return new Map();
      }
      const r = parseStore(text);
      for (const p of r.problems) l.warn({ file, err: p }, 'stored last good policy ignored');
      written = storeText(r.lastGood);
      l.info({ file, policies: r.lastGood.size }, 'last good policies loaded');
      return r.lastGood;
    },
    save(lastGood) {
      const text = storeText(lastGood);
      if (text === written) return;
      try {
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(`${file}.tmp`, text);
        renameSync(`${file}.tmp`, file);
        written = text;
      } catch (err) {
        l.warn({ file, err: (err as Error).message }, 'cannot store last good policies');
      }
    },
  };
}
