/**
 * Runs the API-server double as its own process (for `vxmesh lab up --source kubernetes`):
 *
 *   node dist/testing/apiserver/main.js [--host 127.0.0.1] [--port 0] [--kubeconfig-out FILE] [--seed FILE.yaml]...
 *                                       [--unix PATH] [--state FILE]
 *
 * --state FILE keeps the objects across restarts of the process (like etcd's data directory): loaded at start
 * when the file exists, written when SIGTERM/SIGINT stop the server. Watches from before the restart get
 * 410 Gone and relist, as after an etcd compaction.
 * Prints one JSON line `{"url": …, "port": …}` on stdout when it serves; SIGTERM/SIGINT stop it.
 * --unix also accepts connections on a Unix socket and relays them to the TCP port: path-bound Unix sockets
 * are not tied to a network namespace, so a relay inside another namespace (the lab runs socat on its
 * underlay) can reach the double without any route between the namespaces.
 */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
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

const host = opt('host') ?? '127.0.0.1';
const api = await startApiServer({ host, port: Number(opt('port') ?? 0), bookmarkMs: Number(opt('bookmark-ms') ?? 5000) });
const stateFile = opt('state');
if (stateFile && existsSync(stateFile)) api.store.load(JSON.parse(readFileSync(stateFile, 'utf8')));
for (const file of seeds) {
  const { docs, errors } = parseDocuments(readFileSync(file, 'utf8'), file);
  if (errors.length) throw errors[0];
  seedObjects(api.store, DEFAULT_RESOURCES, docs);
}
const unixPath = opt('unix');
if (unixPath) {
  rmSync(unixPath, { force: true });
  const relay = createServer((client) => {
    const upstream = connect(api.port, host);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve, reject) => relay.once('error', reject).listen(unixPath, resolve));
}
const out = opt('kubeconfig-out');
if (out) {
  // Written last and atomically: its presence tells a waiting parent (the lab) that everything serves.
  writeFileSync(`${out}.tmp`, api.kubeconfig());
  renameSync(`${out}.tmp`, out);
}
process.stdout.write(`${JSON.stringify({ url: api.url, port: api.port })}\n`);
const stop = () =>
  void api.close().then(() => {
    if (stateFile) {
      writeFileSync(`${stateFile}.tmp`, JSON.stringify(api.store.dump()));
      renameSync(`${stateFile}.tmp`, stateFile);
    }
    process.exit(0);
  });
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
