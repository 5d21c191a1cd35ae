/**
 * Runs the API-server double as its own process (for `vxmesh lab up --source kubernetes`):
 *
 *   node dist/testing/apiserver/main.js [--host 127.0.0.1] [--port 0] [--kubeconfig-out FILE] [--seed FILE.yaml]...
 *
 * Prints one JSON line `{"url": …, "port": …}` on stdout when it serves; SIGTERM/SIGINT stop it. Agents in
 * other network namespaces need --host to be an address they can reach (e.g. the lab's underlay address).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseDocuments } from '../../sources/validate.js';
import { DEFAULT_RESOURCES } from './resources.js';
import { seedObjects } from './seed.js';
import { startApiServer } from './server.js';

const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const seeds = argv.flatMap((a, i) => (a === '--seed' && argv[i + 1] ? [argv[i + 1]!] : []));

const api = await startApiServer({ host: opt('host') ?? '127.0.0.1', port: Number(opt('port') ?? 0), bookmarkMs: Number(opt('bookmark-ms') ?? 5000) });
for (const file of seeds) {
  const { docs, errors } = parseDocuments(readFileSync(file, 'utf8'), file);
  if (errors.length) throw errors[0];
  seedObjects(api.store, DEFAULT_RESOURCES, docs);
}
const out = opt('kubeconfig-out');
if (out) writeFileSync(out, api.kubeconfig());
process.stdout.write(`${JSON.stringify({ url: api.url, port: api.port })}\n`);
const stop = () => void api.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
