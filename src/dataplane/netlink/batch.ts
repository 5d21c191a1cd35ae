/**
 * Runs a Change[] with as few processes as possible: consecutive changes with the same tool and
 * namespace go to one `ip -force -batch -` / `bridge -force -batch -` (failures are reported per line,
 * the rest still runs), one `nft -f -` transaction, or one `sysctl -w`. Once a change of a network
 * fails, that network's later changes are skipped (they would only fail in turn); other networks go on.
 */
import type { Logger } from 'pino';
import { run } from '../../util/exec.js';
import { orderChanges, describeChange, type Change } from './change.js';

export interface ApplyContext {
  /** The node's namespace (undefined: the process's own). */
  netns?: string;
  log: Logger;
}

export interface ChangeFailure {
  change: Change;
  message: string;
}

export interface ApplyResult {
  applied: number;
  failures: ChangeFailure[];
  /** Changes not attempted because an earlier change of the same network failed. */
  skipped: number;
}

export async function applyChanges(input: Change[], ctx: ApplyContext): Promise<ApplyResult> {
  const changes = orderChanges(input);
  const failedVnis = new Set<number>();
  const failures: ChangeFailure[] = [];
  let applied = 0;
  let skipped = 0;
  let i = 0;
  while (i < changes.length) {
    const first = changes[i]!;
    const group: Change[] = [];
    while (i < changes.length && changes[i]!.tool === first.tool && changes[i]!.ns === first.ns && changes[i]!.phase === first.phase) {
      const c = changes[i++]!;
      if (c.vni !== undefined && failedVnis.has(c.vni)) skipped++;
      else group.push(c);
    }
    if (group.length === 0) continue;
    for (const c of group) ctx.log.debug({ op: c.tool, vni: c.vni, reason: c.reason, change: describeChange(c) }, 'applying change');
    const groupFailures = await runGroup(group, ctx);
    for (const f of groupFailures) {
      failures.push(f);
      if (f.change.vni !== undefined) failedVnis.add(f.change.vni);
    }
    applied += group.length - groupFailures.length;
  }
  return { applied, failures, skipped };
}

async function runGroup(group: Change[], ctx: ApplyContext): Promise<ChangeFailure[]> {
  const first = group[0]!;
  try {
    switch (first.tool) {
      case 'ip':
      case 'bridge':
        return await runBatch(first.tool, group, ctx);
      case 'nft': {
        const script = group.map((c) => c.args.join(' ')).join('\n') + '\n';
        await run(['nft', '-f', '-'], { netns: first.ns ?? ctx.netns, input: script });
        return [];
      }
      case 'sysctl':
        await run(['sysctl', '-q', '-w', ...group.map((c) => `${c.args[0]}=${c.args[1]}`)], { netns: first.ns ?? ctx.netns });
        return [];
      case 'netns': {
        // Named namespaces are machine-wide (/run/netns): never run inside the node namespace.
        const out: ChangeFailure[] = [];
        for (const c of group) {
          const r = await run(['ip', 'netns', c.args[0]!, c.args[1]!], { allowFailure: true });
          if (r.exitCode !== 0) out.push({ change: c, message: r.stderr.trim() || `ip netns ${c.args[0]} failed` });
        }
        return out;
      }
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return group.map((change) => ({ change, message }));
  }
}

async function runBatch(tool: 'ip' | 'bridge', group: Change[], ctx: ApplyContext): Promise<ChangeFailure[]> {
  for (const c of group) {
    if (c.args.some((a) => a === '' || /\s/.test(a))) throw new Error(`batch argument with whitespace: ${describeChange(c)}`);
  }
  const input = group.map((c) => c.args.join(' ')).join('\n') + '\n';
  // Router namespaces: `-n NAME` (no need to enter the node namespace, names are machine-wide).
  const argv = first(group).ns ? [tool, '-n', first(group).ns!, '-force', '-batch', '-'] : [tool, '-force', '-batch', '-'];
  const r = await run(argv, { netns: first(group).ns ? undefined : ctx.netns, input, allowFailure: true });
  if (r.exitCode === 0) return [];
  return parseBatchFailures(group, `${r.stderr}\n${r.stdout}`);
}

const first = (g: Change[]) => g[0]!;

/** Maps `Command failed -:N` markers back to the changes; without markers every change failed. */
export function parseBatchFailures(group: Change[], output: string): ChangeFailure[] {
  const out: ChangeFailure[] = [];
  let pending: string[] = [];
  for (const line of output.split('\n')) {
    const m = /^Command failed -:(\d+)/.exec(line.trim());
    if (m) {
      const change = group[Number(m[1]) - 1];
      if (change) out.push({ change, message: pending.join(' | ') || 'command failed' });
      pending = [];
    } else if (line.trim()) {
      pending.push(line.trim());
    }
  }
  if (out.length === 0) return group.map((change) => ({ change, message: pending.join(' | ') || 'batch failed' }));
  return out;
}
