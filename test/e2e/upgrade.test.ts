/**
 * A DaemonSet rolling update with real agents: the demo lab (bpf mode, file source) brought up by the
 * previous ABI's build (its own `vxmesh lab up`, agent processes and BPF objects: helpers/upgrade.ts), then
 * the lab's agents are moved to this build one node at a time (`lab restart NODE` once the lab runs this
 * build's dist: the pod template names the new image, each pod is replaced in turn) — node 2, node 1, node 3.
 * Throughout, vm-a1 (node 1) pings vm-a2 (node 2) every 10 ms, and holds one TCP connection to vm-a2 that a
 * MultiNetworkPolicy allows one way only: vm-a1 may open connections to vm-a2, nothing may open one to vm-a1,
 * so vm-a2's packets reach vm-a1 only as replies, through the flow table. Every loss counts: 0 pings lost, the
 * connection still open, and the server's next push (the connection's first packet after the update, from
 * vm-a2) reaches vm-a1. The positive control runs the same update with flow carrying disabled
 * (VXMESH_UPGRADE_CARRY=0, the former behaviour): that push is dropped by vm-a1's policy.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/util/exec.js';
import { labPaths } from '../../src/lab/state.js';
import { CARRY_ENV } from '../../src/dataplane/bpf/upgrade.js';
import { CLI, REPO, find, pingStream, sleep, TestLab, type Doc } from '../helpers/lab.js';
import { buildOldTree, pythonIn, tcpClient, tcpServer, type LineProcess } from '../helpers/upgrade.js';

const A1 = '10.10.0.2';
const A2 = '10.10.0.3';
const policy = (name: string, spec: Record<string, unknown>): Doc => ({
  apiVersion: 'k8s.cni.cncf.io/v1beta1', kind: 'MultiNetworkPolicy',
  metadata: { name, namespace: 'tenant-a', annotations: { 'k8s.v1.cni.cncf.io/policy-for': 'blue' } },
  spec,
});

/** The demo lab with vm-a1 labelled a client and vm-a2 a server. */
function labDocs(lab: TestLab): Doc[] {
  const docs = structuredClone(lab.docs);
  find(docs, 'VirtualMachineInstance', 'vm-a1').metadata.labels = { role: 'client' };
  find(docs, 'VirtualMachineInstance', 'vm-a2').metadata.labels = { role: 'server' };
  return docs;
}

/** Nothing may open a connection to a client; only clients may open one to a server. */
const POLICIES = [
  policy('client', { podSelector: { matchLabels: { role: 'client' } }, policyTypes: ['Ingress'], ingress: [] }),
  policy('server', { podSelector: { matchLabels: { role: 'server' } }, ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }] }] }),
];

/** The map type of a node's pinned flow table: 9 (LRU hash, the previous build), 13 (hash of maps, this one). */
async function ctType(lab: TestLab, node: string): Promise<string> {
  const r = await run(['bpftool', '-j', 'map', 'show', 'pinned', path.join(labPaths(lab.name).bpffs(node), 'vxmesh', 'vxm_ct')]);
  return (JSON.parse(r.stdout) as { type: string }).type;
}

/** The build a node's agent process runs (the repo its dist/cli/main.js is in). */
function agentBuild(lab: TestLab, node: string): string {
  const state = JSON.parse(readFileSync(labPaths(lab.name).json, 'utf8')) as { nodes: Array<{ name: string; agentPid: number }> };
  const pid = state.nodes.find((n) => n.name === node)!.agentPid;
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  return argv.find((a) => a.endsWith('/dist/cli/main.js'))!.replace(/\/dist\/cli\/main\.js$/, '');
}

describe('a rolling update of the lab\'s agents from the previous build to this one (bpf mode, file source)', () => {
  let oldTree = '';
  let lab: TestLab | undefined;
  const procs: LineProcess[] = [];

  beforeAll(() => {
    if (process.getuid?.() !== 0) throw new Error('e2e tests need root');
    oldTree = buildOldTree({ dist: true });
  }, 180_000);
  afterEach(async () => {
    for (const p of procs.splice(0)) p.proc.kill('SIGKILL');
    if (lab) {
      lab.cliJs = CLI;
      await lab.down();
    }
    lab = undefined;
  });
  afterAll(() => {
    if (oldTree) rmSync(oldTree, { recursive: true, force: true });
  });

  it.each([
    { carry: true, title: 'loses 0 of the 10 ms pings and keeps the established TCP connection: vm-a2\'s first packet after the update passes vm-a1\'s policy as a reply' },
    { carry: false, title: 'positive control, flow table not carried: the same first packet from vm-a2 is dropped by vm-a1\'s policy' },
  ])('$title', async ({ carry }) => {
    lab = new TestLab('bpf');
    lab.cliJs = path.join(oldTree, 'dist/cli/main.js');
    await lab.up(labDocs(lab)); // `lab up` checks the open matrix: the policies come after it
    const applied = await lab.apply([...labDocs(lab), ...POLICIES]);
    expect(applied.exitCode, `${applied.stdout}\n${applied.stderr}`).toBe(0);
    const nodes = [2, 1, 3].map((i) => lab!.node(i));
    for (const n of nodes) {
      expect(agentBuild(lab, n)).toBe(oldTree);
      expect(await ctType(lab, n), 'the previous build pins a flat LRU flow table').toBe('lru_hash');
    }

    // The policy holds on the previous build: vm-a1 reaches vm-a2, vm-a2 cannot open a connection to vm-a1,
    // whose echo server is listening (it answers inside vm-a1).
    expect(await lab.whoAnswers('vm-a1', A2)).toBe('vm-a2');
    expect(await lab.whoAnswers('vm-a1', '127.0.0.1')).toBe('vm-a1');
    expect(await lab.whoAnswers('vm-a2', A1)).toBe('-');

    const server = pythonIn(lab.netns('vm-a2'), tcpServer(5000));
    procs.push(server);
    expect(await server.wait(/^listening$/, 5000)).toBe(true);
    const client = pythonIn(lab.netns('vm-a1'), tcpClient(A2, 5000));
    procs.push(client);
    expect(await client.wait(/^connected$/, 5000)).toBe(true);
    client.send('before');
    expect(await client.wait(/^echo:before$/, 3000)).toBe(true);
    server.send('p0');
    expect(await client.wait(/^push:p0$/, 3000), 'a push on the previous build (a reply through the flow table)').toBe(true);

    // The rolling update under the 10 ms ping: the lab now runs this build; each node's agent is replaced in turn.
    const ping = pingStream(lab.netns('vm-a1'), A2);
    await sleep(1000);
    const t0 = Date.now();
    const json = labPaths(lab.name).json;
    writeFileSync(json, JSON.stringify({ ...JSON.parse(readFileSync(json, 'utf8')), repo: REPO }, null, 2));
    lab.cliJs = CLI;
    const saved = process.env[CARRY_ENV];
    if (!carry) process.env[CARRY_ENV] = '0';
    try {
      for (const n of nodes) {
        const r = await lab.cli(['lab', 'restart', n, '--lab', lab.name]);
        expect(r.exitCode, `lab restart ${n}: ${r.stdout}\n${r.stderr}`).toBe(0);
        expect(agentBuild(lab, n)).toBe(REPO);
        expect(await ctType(lab, n), 'this build pins the flow table as per-network shares').toBe('hash_of_maps');
        expect(readFileSync(labPaths(lab.name).log(n), 'utf8')).toMatch(/map vxm_ct: migrate \(ct-shares\): type LRUHash\(9\) -> HashOfMaps\(13\)/);
      }
    } finally {
      if (saved === undefined) delete process.env[CARRY_ENV];
      else process.env[CARRY_ENV] = saved;
    }
    const updateMs = Date.now() - t0;

    // The connection's first packet after the update comes from vm-a2 (vm-a1 sent nothing since the push).
    server.send('p1');
    const pushed = await client.wait(/^push:p1$/, 3000);
    await sleep(500);
    const stats = await ping.stop();
    console.log(`[rolling update carry=${carry}] 3 nodes in ${updateMs} ms; ping lost ${stats.lost}/${stats.transmitted}; push after the update ${pushed ? 'received' : 'dropped'}`);
    // started 1 s before the first restart, stopped after the push: it spans the update (ping keeps ~50-100/s here)
    expect(stats.transmitted, 'the ping ran across the whole update').toBeGreaterThan(updateMs / 10 / 2);
    if (carry) {
      expect(stats.lost).toBe(0);
      expect(pushed).toBe(true);
      client.send('after');
      expect(await client.wait(/^echo:after$/, 3000)).toBe(true);
      expect(client.lines).not.toContain('closed');
      // The policy still holds on this build.
      expect(await lab.whoAnswers('vm-a2', A1)).toBe('-');
      expect(await lab.whoAnswers('vm-a1', A2)).toBe('vm-a2');
    } else {
      expect(pushed).toBe(false);
    }
  }, 300_000);
});
