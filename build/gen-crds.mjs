#!/usr/bin/env node
// Writes deploy/crds/*.yaml from the zod schemas. Run after `npx tsc -p tsconfig.json`:
//   node build/gen-crds.mjs          (write)
//   node build/gen-crds.mjs --check  (exit 1 when the files are out of date)
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { renderCrdFiles } = await import(join(root, 'dist/model/crd-yaml.js'));
const dir = join(root, 'deploy/crds');
const check = process.argv.includes('--check');
let stale = 0;
mkdirSync(dir, { recursive: true });
for (const [file, text] of renderCrdFiles()) {
  const path = join(dir, file);
  const old = existsSync(path) ? readFileSync(path, 'utf8') : '';
  if (old === text) continue;
  stale++;
  if (check) console.error(`out of date: deploy/crds/${file}`);
  else {
    writeFileSync(path, text);
    console.log(`wrote deploy/crds/${file}`);
  }
}
if (check && stale) process.exit(1);
