#!/usr/bin/env node
// Writes deploy/*.yaml (the kustomize manifests, except namespace.yaml and kustomization.yaml) from deploy/chart
// rendered with its default values: the chart is the one source. Run after `npx tsc -p tsconfig.json`:
//   node build/gen-deploy.mjs          (write)
//   node build/gen-deploy.mjs --check  (exit 1 when the files are out of date)
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { renderDeployFiles } = await import(join(root, 'dist/deploy/chart.js'));
const check = process.argv.includes('--check');
let stale = 0;
for (const [file, text] of renderDeployFiles()) {
  const path = join(root, 'deploy', file);
  if ((existsSync(path) ? readFileSync(path, 'utf8') : '') === text) continue;
  stale++;
  if (check) console.error(`out of date: deploy/${file} (run node build/gen-deploy.mjs)`);
  else {
    writeFileSync(path, text);
    console.log(`wrote deploy/${file}`);
  }
}
if (check && stale) process.exit(1);
