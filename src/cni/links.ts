/**
 * The plugin's edge: the links it reads and the `ip` commands it runs, in the node's namespace (where
 * the runtime runs the plugin) and in the container's (a path such as /var/run/netns/x or
 * /proc/<pid>/ns/net, entered with nsenter). Commands run through node:child_process directly, not
 * util/exec.ts: loading execa costs ~100 ms, most of a plugin invocation, which a VM start waits for.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CommandError } from '../errors.js';

/** The attributes of a link the plugin decides on (a subset of dataplane/netlink/link.ts LinkInfo). */
export interface PluginLink {
  name: string;
  kind?: string;
  master?: string;
  up: boolean;
  mtu: number;
  mac?: string;
  alias?: string;
}

/**
 * `ip -j -d link show` output, read by hand: dataplane/netlink/link.ts parses it with zod, whose
 * loading (~120 ms) would double an ADD. Pure.
 */
export function parsePluginLinks(json: unknown): PluginLink[] {
  if (!Array.isArray(json)) throw new Error('ip -j link show did not print a list');
  return json.map((l: Record<string, any>) => ({
    name: String(l.ifname),
    ...(typeof l.linkinfo?.info_kind === 'string' ? { kind: l.linkinfo.info_kind } : {}),
    ...(typeof l.master === 'string' ? { master: l.master } : {}),
    up: Array.isArray(l.flags) && l.flags.includes('UP'),
    mtu: Number(l.mtu ?? 0),
    ...(typeof l.address === 'string' ? { mac: l.address } : {}),
    ...(typeof l.ifalias === 'string' && l.ifalias ? { alias: l.ifalias } : {}),
  }));
}

interface Ran {
  stdout: string;
  stderr: string;
  exitCode: number;
}

function run(argv: string[], opts: { input?: string; allowFailure?: boolean } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = execFile(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      const exitCode = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      if (exitCode !== 0 && !opts.allowFailure) reject(new CommandError(argv, String(stderr || stdout || err?.message || ''), exitCode));
      else resolve({ stdout: String(stdout), stderr: String(stderr), exitCode });
    });
    if (opts.input === undefined) return;
    child.stdin?.on('error', () => undefined); // a child that exits early has its own error to tell
    child.stdin?.end(opts.input);
  });
}

const NO_DEVICE = /does not exist|Cannot find device|No such device/i;

async function showLink(argv: string[]): Promise<PluginLink | undefined> {
  const r = await run(argv, { allowFailure: true });
  if (r.exitCode !== 0) {
    if (NO_DEVICE.test(r.stderr)) return undefined;
    throw new Error(`${argv.join(' ')}: ${r.stderr.trim()}`);
  }
  return parsePluginLinks(JSON.parse(r.stdout))[0];
}

/** A link of the node's namespace, with details (kind, master, alias), or undefined. */
export const hostLink = (name: string) => showLink(['ip', '-j', '-d', 'link', 'show', 'dev', name]);

/** A link inside the container's namespace, or undefined. */
export const containerLink = (netns: string, name: string) => showLink(['nsenter', `--net=${netns}`, 'ip', '-j', '-d', 'link', 'show', 'dev', name]);

/** The links enslaved to `bridge` in the node's namespace. */
export async function bridgePorts(bridge: string): Promise<PluginLink[]> {
  const r = await run(['ip', '-j', '-d', 'link', 'show', 'master', bridge], { allowFailure: true });
  if (r.exitCode !== 0 || !r.stdout.trim()) return [];
  return parsePluginLinks(JSON.parse(r.stdout));
}

export const netnsExists = (netns: string) => existsSync(netns);

/** Runs `ip -batch -` lines in the node's namespace; stops at the first failing line (throws). */
export async function hostBatch(lines: string[]): Promise<void> {
  await run(['ip', '-batch', '-'], { input: `${lines.join('\n')}\n` });
}

export async function containerIp(netns: string, args: string[]): Promise<void> {
  await run(['nsenter', `--net=${netns}`, 'ip', ...args]);
}

/** Deletes a node-side link; true if it existed. */
export async function deleteHostLink(name: string): Promise<boolean> {
  const r = await run(['ip', 'link', 'del', 'dev', name], { allowFailure: true });
  if (r.exitCode === 0) return true;
  if (NO_DEVICE.test(r.stderr)) return false;
  throw new Error(`ip link del dev ${name}: ${r.stderr.trim()}`);
}
