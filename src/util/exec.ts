/**
 * The one way vxmesh runs external commands (ip, bridge, nft, bpftool, tc): argv arrays, never shell
 * strings; failures become CommandError with the command's stderr. `netns` runs the command inside a
 * named network namespace (`ip netns exec NAME …`).
 */
import { execa } from 'execa';
import { CommandError } from '../errors.js';

export interface RunOptions {
  /** Named network namespace to run in (via `ip netns exec`). */
  netns?: string;
  /** Text fed to stdin (e.g. for `ip -batch -`). */
  input?: string;
  /** Do not throw on a non-zero exit; the caller inspects the result. */
  allowFailure?: boolean;
  timeoutMs?: number;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export function withNetns(argv: string[], netns?: string): string[] {
  return netns ? ['ip', 'netns', 'exec', netns, ...argv] : argv;
}

export async function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const full = withNetns(argv, opts.netns);
  const r = await execa(full[0]!, full.slice(1), {
    input: opts.input,
    reject: false,
    timeout: opts.timeoutMs ?? 60_000,
    stripFinalNewline: false,
  });
  const exitCode = r.exitCode ?? -1;
  if (exitCode !== 0 && !opts.allowFailure) {
    throw new CommandError(full, String(r.stderr || r.stdout || r.message || ''), exitCode);
  }
  return { stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), exitCode };
}

/**
 * Starts a command with its stdin and stdout as pipes and returns it running (for a process driven by
 * what is written to it, e.g. one that waits for a word before it acts); `await` it for its result.
 */
export function start(argv: string[], opts: Pick<RunOptions, 'netns' | 'timeoutMs'> = {}) {
  const full = withNetns(argv, opts.netns);
  return execa(full[0]!, full.slice(1), { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', reject: false, timeout: opts.timeoutMs ?? 60_000 });
}

/** Runs a command that prints JSON (`ip -j …`) and parses it; empty output parses as []. */
export async function runJson<T = unknown>(argv: string[], opts: RunOptions = {}): Promise<T> {
  const r = await run(argv, opts);
  const text = r.stdout.trim();
  if (text === '') return [] as unknown as T;
  try {
    return JSON.parse(text) as T;
  } catch (cause) {
    throw new CommandError(withNetns(argv, opts.netns), `unparseable JSON output: ${text.slice(0, 200)}`, r.exitCode, { cause });
  }
}
