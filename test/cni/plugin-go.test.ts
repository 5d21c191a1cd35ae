/**
 * vxmesh's CNI plugin is the Go module cni/ (standard library only): its unit tests (configuration and
 * environment parsing with the CNI error codes, the VMI binding, port names, the ADD plan, CHECK's
 * comparison, GC's input, error objects, VERSION) run here through `go test`, with `go vet`, so the
 * suite counts them; and the binary build/cni-plugin.sh makes is what a Harvester host can run: a static
 * executable (no dynamic loader, no libc, no Node.js).
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/util/exec.js';
import { pluginDir } from '../../src/cni/plugin-binary.js';

const REPO = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const CNI = path.join(REPO, 'cni');
const goEnv = { CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOFLAGS: '' };
const go = (args: string[]) => run(['env', ...Object.entries(goEnv).map(([k, v]) => `${k}=${v}`), 'go', '-C', CNI, ...args], { allowFailure: true, timeoutMs: 300_000 });

/** The Test functions cni/'s _test.go files declare. */
async function declaredTests(): Promise<number> {
  let n = 0;
  for (const f of await readdir(CNI, { recursive: true })) {
    if (f.endsWith('_test.go')) n += ((await readFile(path.join(CNI, f), 'utf8')).match(/^func Test\w+\(t \*testing\.T\)/gm) ?? []).length;
  }
  return n;
}

/** Whether an ELF executable asks for a dynamic loader (a PT_INTERP program header). */
function hasInterpreter(elf: Buffer): boolean {
  expect(elf.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
  expect(elf[4]).toBe(2); // 64-bit
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) if (elf.readUInt32LE(phoff + i * phentsize) === 3) return true;
  return false;
}

beforeAll(async () => {
  await run(['bash', path.join(REPO, 'build/cni-plugin.sh')], { timeoutMs: 300_000 });
});

describe('the Go CNI plugin', () => {
  it('go vet finds nothing and every package\'s tests pass (the pure parts of the plugin)', async () => {
    const vet = await go(['vet', './...']);
    expect(vet.stderr).toBe('');
    expect(vet.exitCode).toBe(0);
    const t = await go(['test', '-json', './...']);
    const events = t.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { Action: string; Package: string; Test?: string });
    const passed = events.filter((e) => e.Test && e.Action === 'pass');
    const failed = events.filter((e) => e.Test && e.Action === 'fail').map((e) => `${e.Package} ${e.Test}`);
    expect(failed).toEqual([]);
    expect(t.exitCode).toBe(0);
    const packages = new Set(passed.map((e) => e.Package.replace('vxmesh.io/cni/internal/', '')));
    expect([...packages].sort()).toEqual(['binding', 'cnienv', 'command', 'config', 'jsonx', 'links', 'plugin', 'spec']);
    const declared = await declaredTests();
    expect(declared).toBeGreaterThanOrEqual(20);
    expect(passed.length).toBe(declared); // every declared test ran
    console.log(`go test ./... in cni/: ${passed.length} tests passed in ${packages.size} packages`);
  });

  it('is built as a static executable, unlike a dynamically linked one (positive control: /bin/sh)', async () => {
    expect(hasInterpreter(await readFile(path.join(pluginDir(REPO), 'vxmesh-cni')))).toBe(false);
    expect(hasInterpreter(await readFile('/bin/sh'))).toBe(true);
  });
});
