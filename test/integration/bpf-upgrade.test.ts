/**
 * An upgrade across a map-layout change, with two real builds: the previous ABI's build (main before the
 * kpolicy merge, e0fdeeb: vxm_ct one flat LRU of flows) runs both nodes — its own agent code and its own
 * objects, extracted with `git archive` and compiled by its build/build-bpf.sh (the same clang flags) —,
 * then this build's dataplane takes over each node in turn (a DaemonSet rolling update: node2, then node1),
 * under a 10 ms ping and an established TCP connection through a MultiNetworkPolicy that lets vm a1 open
 * connections to a2 and lets nothing in to a1: a2's packets reach a1 only as replies, through the flow
 * table. With the flow table carried, 0 pings are lost and the server's next push (the first packet of the
 * connection after the upgrade, from a2) reaches a1; the positive control, carrying disabled
 * (VXMESH_UPGRADE_CARRY=0, the old behaviour), shows the test can see the difference: the push is dropped.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Lab, startServer, ask } from '../helpers/kernel-lab.js';
import { mountBpffs, unmountBpffs } from '../helpers/bpffs.js';
import { createBpfDataplane, PinnedMaps } from '../../src/dataplane/bpf/index.js';
import { CARRY_ENV } from '../../src/dataplane/bpf/upgrade.js';
import { names } from '../../src/dataplane/names.js';
import { parsePing } from '../helpers/lab.js';
import type { NodeIntent } from '../../src/intent/types.js';
import { mapShape, objGet, closeFd, BPF_MAP_TYPE_LRU_HASH } from '../../src/dataplane/bpf/libbpf.js';
import { buildOldTree, pythonIn, tcpClient, tcpServer } from '../helpers/upgrade.js';

const A = { key: 'tenant-a/net', vni: 100, cidr: '10.10.0.0/24', gateway: '10.10.0.1', natOutgoing: false };
const VM1 = { name: 'a1', net: A.key, node: 'n1', ip: '10.10.0.11', mac: '52:54:00:00:00:11' };
const VM2 = { name: 'a2', net: A.key, node: 'n2', ip: '10.10.0.12', mac: '52:54:00:00:00:12' };
const NODES = ['n1', 'n2'];
const ipNum = (ip: string) => ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);

/** a1: nothing may open a connection to it (ingress group 1, no rule); a2: a1 may open anything (group 2). */
function withPolicy(intent: NodeIntent, node: string): NodeIntent {
  const net = intent.clusterNetworks[0]!.networks[0]!;
  net.policy = {
    endpoints: [
      { vm: 'default/a1', iface: 'default', mac: VM1.mac, ip: VM1.ip, local: node === 'n1', ingress: 1 },
      { vm: 'default/a2', iface: 'default', mac: VM2.mac, ip: VM2.ip, local: node === 'n2', ingress: 2 },
    ],
    groups: [
      { id: 1, direction: 'ingress', vni: A.vni, policies: ['default/client'], rules: [] },
      { id: 2, direction: 'ingress', vni: A.vni, policies: ['default/server'], rules: [{ policy: 'default/server', index: 0, peers: [{ from: ipNum(VM1.ip), to: ipNum(VM1.ip) }] }] },
    ],
  };
  return intent;
}

let oldTree = '';
let lab: Lab | undefined;
const bpffs = new Map<string, string>();
const procs: ChildProcess[] = [];

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('integration tests need root');
  oldTree = buildOldTree();
  fs.writeFileSync(path.join(oldTree, 'run-old.ts'), [
    "import fs from 'node:fs';",
    "import { pino } from 'pino';",
    "import { createBpfDataplane } from './src/dataplane/bpf/index.js';",
    'const [intentFile, node, netns, bpffs] = process.argv.slice(2);',
    "const dp = createBpfDataplane({ node, netns, bpffs, log: pino({ level: 'silent' }) } as never);",
    "const r = await dp.reconcile(JSON.parse(fs.readFileSync(intentFile, 'utf8')));",
    'console.log(JSON.stringify({ changes: r.changes, errors: r.errors }));',
  ].join('\n'));
}, 120_000);

afterEach(async () => {
  for (const p of procs.splice(0)) p.kill('SIGKILL');
  await lab?.destroy();
  lab = undefined;
  for (const dir of bpffs.values()) await unmountBpffs(dir);
  bpffs.clear();
});

afterAll(() => {
  if (oldTree) fs.rmSync(oldTree, { recursive: true, force: true });
});

/** The previous build's agent code and objects, one pass on `node` (a child process: its own koffi bindings). */
async function reconcileOld(node: string): Promise<void> {
  const file = path.join(oldTree, `intent-${node}.json`);
  fs.writeFileSync(file, JSON.stringify(withPolicy(lab!.intent(node), node)));
  const out = execFileSync(path.join(oldTree, 'node_modules/.bin/vite-node'), ['run-old.ts', file, lab!.nodeName(node), lab!.nodeNs(node), bpffs.get(node)!], { cwd: oldTree, encoding: 'utf8', env: { ...process.env, VXMESH_BPF_DIR: path.join(oldTree, 'build/out') } });
  expect(JSON.parse(out.trim().split('\n').pop()!).errors, `old build's errors on ${node}`).toEqual([]);
}

/** A line-oriented python process in a VM namespace, killed after the test. */
function python(vm: string, code: string) {
  const p = pythonIn(lab!.vmNs(vm), code);
  procs.push(p.proc);
  return p;
}

function pinnedCtType(node: string): number {
  const fd = objGet(path.join(names.pinDir(bpffs.get(node)!), 'vxm_ct'));
  try {
    return mapShape(fd).type;
  } finally {
    closeFd(fd);
  }
}

describe('bpf upgrade across a map-layout change (previous build -> this build)', () => {
  it.each([
    { carry: true, title: 'loses 0 of the 10 ms pings and keeps the established TCP connection: a2\'s first packet after the upgrade passes a1\'s policy as a reply' },
    { carry: false, title: 'positive control, flow table not carried: the same first packet from a2 is dropped by a1\'s policy' },
  ])('$title', async ({ carry }) => {
    lab = new Lab();
    await lab.build([A], [VM1, VM2]);
    for (const n of NODES) bpffs.set(n, await mountBpffs());
    for (const n of NODES) await reconcileOld(n);
    for (const n of NODES) await reconcileOld(n); // a second pass: what the old agent does on its resync
    expect(pinnedCtType('n1'), 'the old build pins a flat LRU flow table').toBe(BPF_MAP_TYPE_LRU_HASH);

    // The policy works on the old build: a2 cannot open a connection to a1 (a1 proven listening), a1 can to a2.
    await startServer(lab.vmNs('a1'), 7, 'a1');
    await startServer(lab.vmNs('a2'), 7, 'a2');
    expect(await ask(lab.vmNs('a1'), VM2.ip, 7)).toBe('a2');
    expect(await ask(lab.vmNs('a2'), VM1.ip, 7)).toBe('');

    const server = python('a2', tcpServer(5000));
    expect(await server.wait(/^listening$/, 5000)).toBe(true);
    const client = python('a1', tcpClient(VM2.ip, 5000));
    expect(await client.wait(/^connected$/, 5000)).toBe(true);
    client.send('before');
    expect(await client.wait(/^echo:before$/, 3000)).toBe(true);
    server.send('p0');
    expect(await client.wait(/^push:p0$/, 3000), 'a push on the old build (a reply through the flow table)').toBe(true);

    // The rolling update under a 10 ms ping: node2, then node1, each taken over by this build.
    const pinger = spawn('ip', ['netns', 'exec', lab.vmNs('a1'), 'ping', '-i', '0.01', '-c', '1000', '-W', '1', VM2.ip], { stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(pinger);
    let pingOut = '';
    pinger.stdout!.on('data', (d: Buffer) => (pingOut += d.toString()));
    const pingDone = new Promise<void>((r) => pinger.on('exit', () => r()));
    await new Promise((r) => setTimeout(r, 1000));
    const t0 = Date.now();
    const saved = process.env[CARRY_ENV];
    if (!carry) process.env[CARRY_ENV] = '0';
    try {
      for (const n of ['n2', 'n1']) {
        const dp = createBpfDataplane({ node: lab.nodeName(n), netns: lab.nodeNs(n), bpffs: bpffs.get(n), log: lab.log });
        const r = await dp.reconcile(withPolicy(lab.intent(n), n));
        expect(r.errors, `errors on ${n}`).toEqual([]);
        await dp.close();
      }
    } finally {
      if (saved === undefined) delete process.env[CARRY_ENV];
      else process.env[CARRY_ENV] = saved;
    }
    const upgradeMs = Date.now() - t0;
    expect(pinnedCtType('n1'), 'this build pins the flow table as shares').toBe(13);
    const maps = PinnedMaps.open(names.pinDir(bpffs.get('n1')!));
    maps.close(); // every map of this build is pinned

    // The connection's first packet after the upgrade comes from a2 (a1 sent nothing since the push).
    server.send('p1');
    const pushed = await client.wait(/^push:p1$/, 3000);
    await pingDone;
    const ping = parsePing(pingOut);
    console.log(`[upgrade carry=${carry}] both nodes upgraded in ${upgradeMs} ms; ping lost ${ping.lost}/${ping.transmitted}; push after upgrade ${pushed ? 'received' : 'dropped'}`);
    expect(upgradeMs, 'the ping covered the whole upgrade').toBeLessThan(8000);
    if (carry) {
      expect(ping.lost).toBe(0);
      expect(pushed).toBe(true);
      client.send('after');
      expect(await client.wait(/^echo:after$/, 3000)).toBe(true);
      // The policy still holds on this build: a2 still cannot open a connection to a1.
      expect(await ask(lab.vmNs('a2'), VM1.ip, 7)).toBe('');
      expect(await ask(lab.vmNs('a1'), VM2.ip, 7)).toBe('a2');
    } else {
      expect(pushed).toBe(false);
    }
  }, 120_000);
});
