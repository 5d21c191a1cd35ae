/**
 * Test labs: the demo lab (examples/lab.yaml) under a unique name (`t` + 4 random chars) with node names
 * prefixed by it (so router namespaces `vxmr-<node>-<vni>` never clash with another lab), driven through
 * the real CLI (`node dist/cli/main.js lab …`). Always call down() in afterAll: it is idempotent.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { run, type RunResult } from '../../src/util/exec.js';
import type { LabStatusJson } from '../../src/lab/status.js';
import { registerTestLab, removeTestLab, unregisterTestLab } from './lab-registry.js';

export const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
export const CLI = path.join(REPO, 'dist/cli/main.js');
export const EXAMPLE = path.join(REPO, 'examples/lab.yaml');

export type Doc = Record<string, any>;

export function randomLabName(): string {
  return `t${Math.random().toString(36).slice(2, 6).padEnd(4, '0')}`;
}

/** The example's documents, renamed for `lab` (nodes nodeN -> <lab>nN) and set to `mode`. */
export function exampleDocs(lab: string, mode: string): Doc[] {
  const text = readFileSync(EXAMPLE, 'utf8').replace(/\bnode(\d)\b/g, `${lab}n$1`);
  const docs = YAML.parseAllDocuments(text).map((d) => d.toJS() as Doc);
  for (const d of docs) {
    if (d.kind === 'Lab') {
      d.metadata.name = lab;
      d.spec.mode = mode;
    }
  }
  return docs;
}

/** `docs` plus a VM cloned from VMI `like` (same network), renamed, with its own MAC, placed on `node`. */
export function withVm(docs: Doc[], like: string, vm: { name: string; mac: string; node: string }): Doc[] {
  const out = structuredClone(docs);
  const v = structuredClone(find(out, 'VirtualMachineInstance', like));
  v.metadata.name = vm.name;
  delete v.metadata.annotations; // no fixed address: IPAM picks one
  v.spec.domain.devices.interfaces[0].macAddress = vm.mac;
  v.status.nodeName = vm.node;
  out.push(v);
  return out;
}

export const toYaml = (docs: Doc[]) => docs.map((d) => YAML.stringify(d)).join('---\n');

export function find(docs: Doc[], kind: string, name: string): Doc {
  const d = docs.find((x) => x.kind === kind && x.metadata?.name === name);
  if (!d) throw new Error(`no ${kind} ${name}`);
  return d;
}

export class TestLab {
  readonly name: string;
  readonly docs: Doc[];
  private readonly tmp: string;
  private files = 0;
  /** The vxmesh CLI this lab is driven with (another build's, for upgrade tests). */
  cliJs = CLI;

  constructor(readonly mode: string, name = randomLabName()) {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npm run build:ts, or npm test which runs setup)`);
    this.name = name;
    this.docs = exampleDocs(name, mode);
    this.tmp = mkdtempSync(path.join(tmpdir(), `vxm-${name}-`));
    registerTestLab(name);
  }

  node(i: number): string {
    return `${this.name}n${i}`;
  }

  netns(target: string): string {
    return `vxm-${this.name}-${target}`;
  }

  /** Runs `vxmesh <args>` (never throws; check exitCode). */
  cli(args: string[], timeoutMs = 120_000): Promise<RunResult> {
    return run([process.execPath, this.cliJs, ...args], { allowFailure: true, timeoutMs });
  }

  writeFile(docsOrText: Doc[] | string): string {
    const file = path.join(this.tmp, `lab-${this.files++}.yaml`);
    writeFileSync(file, typeof docsOrText === 'string' ? docsOrText : toYaml(docsOrText));
    return file;
  }

  async up(docs: Doc[] = this.docs, extra: string[] = []): Promise<RunResult> {
    const r = await this.cli(['lab', 'up', '-f', this.writeFile(docs), ...extra], 180_000);
    if (r.exitCode !== 0) throw new Error(`lab up failed (exit ${r.exitCode}):\n${r.stdout}\n${r.stderr}`);
    return r;
  }

  apply(docs: Doc[] | string): Promise<RunResult> {
    return this.cli(['lab', 'apply', '-f', this.writeFile(docs)]);
  }

  async status(): Promise<LabStatusJson> {
    const r = await this.cli(['lab', 'status', '--json', '--lab', this.name]);
    if (r.exitCode !== 0) throw new Error(`lab status failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as LabStatusJson;
  }

  /** Runs argv inside a lab namespace (VM, node, `ext`, `ul`). */
  exec(target: string, argv: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
    return run(argv, { netns: this.netns(target), allowFailure: true, input: opts.input, timeoutMs: opts.timeoutMs ?? 30_000 });
  }

  /** Who answers TCP port 7 at `ip`, seen from VM `from` ('-' for nobody). */
  async whoAnswers(from: string, ip: string, port = 7): Promise<string> {
    const r = await this.exec(from, ['socat', '-T', '3', 'STDIO', `TCP:${ip}:${port},connect-timeout=2`], { input: '' });
    return r.exitCode === 0 && r.stdout.trim() ? r.stdout.trim() : '-';
  }

  async ping(from: string, ip: string, count = 1): Promise<boolean> {
    const r = await this.exec(from, ['ping', '-c', String(count), '-W', '2', '-q', ip]);
    return r.exitCode === 0;
  }

  /** `vxmesh lab down`; when that fails, the lab is removed directly (lab-registry.ts), so nothing is left. */
  async down(): Promise<RunResult> {
    const r = await this.cli(['lab', 'down', '--lab', this.name]);
    if (r.exitCode !== 0) await removeTestLab(this.name);
    unregisterTestLab(this.name);
    rmSync(this.tmp, { recursive: true, force: true });
    return r;
  }
}

export interface PingStats {
  transmitted: number;
  received: number;
  lost: number;
}

export function parsePing(out: string): PingStats {
  const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
  if (!m) throw new Error(`unparseable ping output: ${out}`);
  const transmitted = Number(m[1]);
  const received = Number(m[2]);
  return { transmitted, received, lost: transmitted - received };
}

/** A 10 ms ping from `netns` to `ip` until stop() (SIGINT to its own pid: `ip netns exec` execs ping). */
export function pingStream(netns: string, ip: string): { stop(): Promise<PingStats> } {
  const child = spawn('ip', ['netns', 'exec', netns, 'ping', '-i', '0.01', '-q', ip], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return {
    async stop() {
      child.kill('SIGINT');
      await done;
      return parsePing(out);
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it returns true or `timeoutMs` passes; returns the elapsed ms (or throws). */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, everyMs = 100): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (await check()) return Date.now() - t0;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
