/**
 * The image (deploy/Dockerfile) ships `npm prune --omit=dev`'s node_modules: a package the agent or the
 * controller imports at run time but that package.json lists only under devDependencies (or not at all)
 * would pass every test here and crash in the image. No image is built on this machine (no container
 * runtime), so this checks the cause instead: every bare import in src/ that is not type-only names a
 * Node built-in or a package of "dependencies".
 */
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../..');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies?: Record<string, string> };

const walk = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []));

/** Pure: the packages a module imports at run time (type-only imports and relative paths left out). */
export function runtimePackages(source: string): string[] {
  const out = new Set<string>();
  const specs = [
    ...[...source.matchAll(/^\s*import\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?'([^']+)'/gm)].map((m) => m[1]!),
    ...[...source.matchAll(/^\s*export\s+(?!type\s)[^'";]*?\sfrom\s+'([^']+)'/gm)].map((m) => m[1]!),
    ...[...source.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map((m) => m[1]!),
  ];
  for (const spec of specs) {
    if (spec.startsWith('.') || spec.startsWith('/')) continue;
    const parts = spec.split('/');
    out.add(spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!);
  }
  return [...out].sort();
}

describe('what the image\'s pruned node_modules must hold', () => {
  it('finds runtime imports and leaves out type-only ones (the parser)', () => {
    expect(runtimePackages([
      "import { execa } from 'execa';",
      "import type { KubeConfig } from '@kubernetes/client-node';",
      "import * as k8s from '@kubernetes/client-node/dist/gen';",
      "import YAML from 'yaml';",
      "import './side-effect.js';",
      "export { z } from 'zod';",
      "const m = await import('koffi');",
      "import path from 'node:path';",
    ].join('\n'))).toEqual(['@kubernetes/client-node', 'execa', 'koffi', 'node:path', 'yaml', 'zod']);
  });

  it('every package src/ imports at run time is a Node built-in or in "dependencies", none only in devDependencies', () => {
    const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);
    const missing: string[] = [];
    let files = 0;
    for (const f of walk(path.join(ROOT, 'src'))) {
      files++;
      for (const p of runtimePackages(readFileSync(f, 'utf8'))) {
        if (builtins.has(p) || p in pkg.dependencies) continue;
        missing.push(`${path.relative(ROOT, f)} imports ${p}${pkg.devDependencies?.[p] ? ' (a devDependency: pruned from the image)' : ''}`);
      }
    }
    expect(files).toBeGreaterThan(50);
    expect(missing).toEqual([]);
  });
});
