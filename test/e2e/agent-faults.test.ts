/**
 * Fault injection against running agents (the demo lab, real agent processes): no error path deletes what
 * works. Each fault is real from the agent's point of view: the state directory replaced by a file (the
 * listing fails with ENOTDIR), `ip … addr show` or `bridge fdb show` failing (wrappers on node1's agent's
 * PATH, switched on by flag files), a map pin removed, a bpf probe failing on restart (the test hook
 * VXMESH_TEST_FAIL_BPF_PROBE), a BPF map too small for the node's entries (the test knob
 * VXMESH_TEST_MAP_MAX_ENTRIES). Each asserts that the
 * dataplane (links with their ifindexes, static FDB entries, BPF map contents, router namespaces) is the
 * same before and after, and that a 10 ms ping stream across nodes lost nothing.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync, chmodSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/util/exec.js';
import { labPaths } from '../../src/lab/state.js';
import { parsePing, pingStream, sleep, TestLab, waitFor } from '../helpers/lab.js';
import { nodeDataplane } from '../helpers/node-dataplane.js';

/** Everything vxmesh owns on a node that traffic depends on (links with ifindexes, static FDB, router namespaces, BPF map contents). */
const dataplaneOf = (lab: TestLab, node: string) => nodeDataplane(lab.netns(node), { node, pinDir: path.join(labPaths(lab.name).bpffs(node), 'vxmesh') });
const allDataplanes = (lab: TestLab) => Promise.all([1, 2, 3].map((i) => dataplaneOf(lab, lab.node(i))));
const log = (lab: TestLab, i: number) => readFileSync(labPaths(lab.name).log(lab.node(i)), 'utf8');

/** Ping streams vm-a1 (node1) -> vm-a2 (node2) and vm-b1 (node1) -> vm-b2 (node3) at 10 ms while `during` runs. */
async function pingsDuring(lab: TestLab, during: () => Promise<void>): Promise<{ a: ReturnType<typeof parsePing>; b: ReturnType<typeof parsePing> }> {
  const a = pingStream(lab.netns('vm-a1'), '10.10.0.3');
  const b = pingStream(lab.netns('vm-b1'), '10.10.0.3');
  try {
    await sleep(300);
    await during();
    await sleep(300);
  } catch (err) {
    await Promise.all([a.stop().catch(() => undefined), b.stop().catch(() => undefined)]);
    throw err;
  }
  return { a: await a.stop(), b: await b.stop() };
}

/** `<status code> <body>` of node's /readyz. */
async function readyz(lab: TestLab, node: string, port: number): Promise<string> {
  const r = await lab.exec(node, ['curl', '-s', '-w', ' %{http_code}', `http://127.0.0.1:${port}/readyz`]);
  const m = /^([\s\S]*) (\d{3})$/.exec(r.stdout);
  return m ? `${m[2]} ${m[1]!.trim()}` : `curl failed: ${r.stdout}${r.stderr}`;
}

/** A node's published VxlanStatus condition of `type`. */
function condition(lab: TestLab, i: number, type: string): { status: string; reason: string; message: string } | undefined {
  const doc = YAML.parse(readFileSync(path.join(labPaths(lab.name).statusDir, `overlay.${lab.node(i)}.yaml`), 'utf8')) as { status: { message: string; conditions: Array<{ type: string; status: string; reason: string; message: string }> } };
  return doc.status.conditions.find((c) => c.type === type);
}

async function metrics(lab: TestLab, node: string, port: number): Promise<string> {
  return (await lab.exec(node, ['curl', '-s', `http://127.0.0.1:${port}/metrics`])).stdout;
}

/** Restarts a node's agent with extra environment (inherited through the lab CLI to the agent process). */
async function restartWithEnv(lab: TestLab, i: number, env: Record<string, string>): Promise<void> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    const r = await lab.cli(['lab', 'restart', lab.node(i), '--lab', lab.name]);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe.each(['auto', 'kernel'])('faults during a pass (%s mode)', (mode) => {
  let lab: TestLab;
  const HEALTH = 19440;
  let bin = '';

  /** node1's agent: a health port, and `ip`/`bridge` through the fault wrappers. */
  const node1Env = () => ({ VXMESH_HEALTH_PORT: String(HEALTH), PATH: `${bin}:${process.env.PATH}` });
  // The pins, the probe and auto's fallback exist on the bpf node only (auto picks bpf here).
  const bpfOnly = (name: string, fn: () => Promise<void>) => (mode === 'auto' ? it(name, fn) : undefined);

  beforeAll(async () => {
    lab = new TestLab(mode);
    await lab.up();
    // node1's agent: a health port, and `ip` through a wrapper that fails `ip -j -d addr show` while a flag file exists.
    bin = mkdtempSync(path.join(tmpdir(), 'vxm-faultbin-'));
    writeFileSync(path.join(bin, 'ip'), `#!/bin/sh\nif [ -e ${bin}/fail ] && [ "$1 $2 $3 $4" = "-j -d addr show" ]; then echo "Dump was interrupted and may be inconsistent." >&2; exit 2; fi\nexec /usr/sbin/ip "$@"\n`);
    chmodSync(path.join(bin, 'ip'), 0o755);
    writeFileSync(path.join(bin, 'bridge'), `#!/bin/sh\nif [ -e ${bin}/fail-fdb ] && [ "$1 $2 $3" = "-j fdb show" ]; then echo "Error: Dump was interrupted and may be inconsistent." >&2; exit 1; fi\nexec /usr/sbin/bridge "$@"\n`);
    chmodSync(path.join(bin, 'bridge'), 0o755);
    await restartWithEnv(lab, 1, node1Env());
  }, 240_000);
  afterAll(async () => {
    await lab?.down();
    if (bin) rmSync(bin, { recursive: true, force: true });
  });

  it(`runs ${mode === 'auto' ? 'bpf (auto picked it)' : 'kernel'} on every node, ready, with the health port answering`, async () => {
    const s = await lab.status();
    expect(s.nodes.map((n) => [n.mode, n.agentReady])).toEqual([1, 2, 3].map(() => [mode === 'auto' ? 'bpf' : 'kernel', true]));
    expect(await readyz(lab, lab.node(1), HEALTH)).toBe('200 ok');
  });

  it('an unreadable state directory (replaced by a file) changes nothing in the dataplane: no lost ping, not ready with the reason, counted', async () => {
    const state = labPaths(lab.name).state;
    const before = await allDataplanes(lab);
    let during = '';
    const pings = await pingsDuring(lab, async () => {
      renameSync(state, `${state}.away`);
      writeFileSync(state, 'not a directory\n');
      try {
        // Every agent sees it (1 s poll) and holds its passes across two resyncs (2 s).
        await waitFor('every agent to report the unreadable source', async () => [1, 2, 3].every((i) => log(lab, i).includes('state directory read failed')), 10_000);
        await sleep(4500);
        during = await readyz(lab, lab.node(1), HEALTH);
        const m = await metrics(lab, lab.node(1), HEALTH);
        expect(m).toMatch(/^vxmesh_passes_held_total\{stage="source"\} [1-9]/m);
        expect(m).toMatch(/^vxmesh_source_read_errors_total [1-9]/m);
        expect(m).toMatch(/^vxmesh_agent_ready 0$/m);
      } finally {
        rmSync(state, { force: true });
        renameSync(`${state}.away`, state);
      }
    });
    expect(during).toMatch(/^503 not ready: source unreadable, dataplane left as it is: state directory .*state: cannot list: ENOTDIR/);
    await waitFor('node1 ready again', async () => (await readyz(lab, lab.node(1), HEALTH)) === '200 ok', 15_000);
    expect(await allDataplanes(lab)).toEqual(before);
    console.log(`[${mode}] state dir unreadable: lost ${pings.a.lost}/${pings.a.transmitted} (tenant-a), ${pings.b.lost}/${pings.b.transmitted} (tenant-b)`);
    expect([pings.a.lost, pings.b.lost]).toEqual([0, 0]);
    expect(pings.a.transmitted).toBeGreaterThan(200); // the stream really ran across the fault window
    expect(await lab.whoAnswers('vm-a1', '10.10.0.3')).toBe('vm-a2'); // positive control after the fault
  });

  it('a failing link listing (ip addr show exits 2) holds the pass: dataplane and published VTEP unchanged, no lost ping', async () => {
    const before = await allDataplanes(lab);
    let during = '';
    const pings = await pingsDuring(lab, async () => {
      writeFileSync(path.join(bin, 'fail'), '');
      try {
        await waitFor('node1 to hold its pass on the uplink', async () => log(lab, 1).includes('uplink unreadable, dataplane left as it is'), 10_000);
        await sleep(4500); // two resyncs
        during = await readyz(lab, lab.node(1), HEALTH);
        expect(await metrics(lab, lab.node(1), HEALTH)).toMatch(/^vxmesh_passes_held_total\{stage="uplink"\} [1-9]/m);
        const st = await lab.status();
        expect(st.nodes.find((n) => n.name === lab.node(1))).toMatchObject({ underlayIP: '198.18.0.11', agentReady: false });
      } finally {
        rmSync(path.join(bin, 'fail'), { force: true });
      }
    });
    expect(during).toMatch(/^503 not ready: uplink unreadable, dataplane left as it is: .*Dump was interrupted/);
    await waitFor('node1 ready again', async () => (await readyz(lab, lab.node(1), HEALTH)) === '200 ok', 15_000);
    expect(await allDataplanes(lab)).toEqual(before);
    console.log(`[${mode}] link listing failing: lost ${pings.a.lost}/${pings.a.transmitted} (tenant-a), ${pings.b.lost}/${pings.b.transmitted} (tenant-b)`);
    expect([pings.a.lost, pings.b.lost]).toEqual([0, 0]);
    expect(await lab.whoAnswers('vm-b1', '10.10.0.3')).toBe('vm-b2');
  });

  it('a failing FDB listing (bridge fdb show exits 1) fails the pass before anything is applied: dataplane unchanged, no lost ping', async () => {
    const before = await allDataplanes(lab);
    let during = '';
    const pings = await pingsDuring(lab, async () => {
      writeFileSync(path.join(bin, 'fail-fdb'), '');
      try {
        await sleep(4500); // two resyncs
        during = await readyz(lab, lab.node(1), HEALTH);
      } finally {
        rmSync(path.join(bin, 'fail-fdb'), { force: true });
      }
    });
    expect(during).toMatch(/^503 not ready: .*bridge -j fdb show failed \(exit 1\): Error: Dump was interrupted/);
    await waitFor('node1 ready again', async () => (await readyz(lab, lab.node(1), HEALTH)) === '200 ok', 15_000);
    expect(await allDataplanes(lab)).toEqual(before);
    console.log(`[${mode}] fdb listing failing: lost ${pings.a.lost}/${pings.a.transmitted}, ${pings.b.lost}/${pings.b.transmitted}`);
    expect([pings.a.lost, pings.b.lost]).toEqual([0, 0]);
  });

  bpfOnly('a map the agent cannot open (its pin removed) fails the pass closed: not ready naming the map, nothing changed, no lost ping', async () => {
    const pin = path.join(labPaths(lab.name).bpffs(lab.node(1)), 'vxmesh', 'vxm_arp');
    const mapId = (JSON.parse((await run(['bpftool', '-j', 'map', 'show', 'pinned', pin])).stdout) as { id: number }).id;
    const before = await allDataplanes(lab);
    let during = '';
    const pings = await pingsDuring(lab, async () => {
      rmSync(pin);
      try {
        await sleep(4500); // two resyncs
        during = await readyz(lab, lab.node(1), HEALTH);
      } finally {
        await run(['bpftool', 'map', 'pin', 'id', String(mapId), pin]); // the programs kept the map: pin it back
      }
    });
    expect(during).toMatch(/^503 not ready: bpf_obj_get\(.*\/vxm_arp\) failed: errno 2 \(ENOENT\)/);
    await waitFor('node1 ready again', async () => (await readyz(lab, lab.node(1), HEALTH)) === '200 ok', 15_000);
    expect(await allDataplanes(lab)).toEqual(before);
    console.log(`[auto] map pin removed: lost ${pings.a.lost}/${pings.a.transmitted}, ${pings.b.lost}/${pings.b.transmitted}`);
    expect([pings.a.lost, pings.b.lost]).toEqual([0, 0]);
  });

  bpfOnly('auto mode on a node running bpf: a probe that fails once is retried, bpf and its pins stay, no lost ping', async () => {
    const pins = path.join(labPaths(lab.name).bpffs(lab.node(1)), 'vxmesh');
    const before = await allDataplanes(lab);
    const pings = await pingsDuring(lab, () => restartWithEnv(lab, 1, { VXMESH_TEST_FAIL_BPF_PROBE: '1', ...node1Env() }));
    const text = log(lab, 1);
    expect(text).toContain('probe failed by the test hook VXMESH_TEST_FAIL_BPF_PROBE (1 of 1)');
    expect(text).toContain('bpf probe passed on retry, keeping bpf');
    expect((await lab.status()).nodes.find((n) => n.name === lab.node(1))).toMatchObject({ mode: 'bpf', agentReady: true });
    expect(existsSync(path.join(pins, 'vxm_endpoints'))).toBe(true);
    expect(await allDataplanes(lab)).toEqual(before);
    console.log(`[auto] transient probe failure on restart: lost ${pings.a.lost}/${pings.a.transmitted}, ${pings.b.lost}/${pings.b.transmitted}`);
    expect([pings.a.lost, pings.b.lost]).toEqual([0, 0]);
  });

  bpfOnly('auto mode keeps bpf while the probe keeps failing but the pinned programs of this build run, without a lost ping', async () => {
    const before = await allDataplanes(lab);
    const pings = await pingsDuring(lab, () => restartWithEnv(lab, 1, { VXMESH_TEST_FAIL_BPF_PROBE: '99', ...node1Env() }));
    expect(log(lab, 1)).toContain('bpf probe keeps failing, but the pinned programs of this build are running: keeping bpf');
    expect((await lab.status()).nodes.find((n) => n.name === lab.node(1))).toMatchObject({ mode: 'bpf', agentReady: true });
    expect(condition(lab, 1, 'DataplaneMode')).toMatchObject({ status: 'True', reason: 'AsRequested' });
    expect(await allDataplanes(lab)).toEqual(before);
    console.log(`[auto] persistent probe failure on restart: lost ${pings.a.lost}/${pings.a.transmitted}, ${pings.b.lost}/${pings.b.transmitted}`);
    expect([pings.a.lost, pings.b.lost]).toEqual([0, 0]);
  });

  bpfOnly('auto mode falls back to kernel when bpf became impossible (objects gone), says so at warn and in DataplaneMode, and comes back to bpf', async () => {
    await restartWithEnv(lab, 1, { VXMESH_BPF_DIR: '/nonexistent-vxmesh-objects', ...node1Env() });
    const lines = log(lab, 1).split('\n').filter((l) => l.includes('auto mode: bpf unavailable, using kernel dataplane'));
    const last = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
    const reason = 'BPF object /nonexistent-vxmesh-objects/vxm_from_vm.bpf.o missing (run build/build-bpf.sh)';
    expect(last).toMatchObject({ level: 40, bpfWasRunning: true, reason });
    expect(condition(lab, 1, 'DataplaneMode')).toEqual({
      type: 'DataplaneMode', status: 'False', reason: 'FellBackToKernel', lastTransitionTime: expect.any(String),
      message: `auto mode fell back to the kernel dataplane: ${reason}`,
    });
    expect((await lab.status()).nodes.find((n) => n.name === lab.node(1))).toMatchObject({ mode: 'kernel', agentReady: true });
    expect(await lab.whoAnswers('vm-a1', '10.10.0.3')).toBe('vm-a2'); // the kernel dataplane carries the node now
    await restartWithEnv(lab, 1, node1Env());
    expect((await lab.status()).nodes.find((n) => n.name === lab.node(1))).toMatchObject({ mode: 'bpf', agentReady: true });
    expect(condition(lab, 1, 'DataplaneMode')).toMatchObject({ status: 'True', reason: 'AsRequested' });
    expect(await lab.whoAnswers('vm-a1', '10.10.0.3')).toBe('vm-a2');
  });
});

describe('a BPF map too small for the node (bpf mode, vxm_endpoints max_entries 5, a 6th endpoint added)', () => {
  let lab: TestLab;
  let applied = { exitCode: 0, stdout: '', stderr: '' };

  beforeAll(async () => {
    process.env.VXMESH_TEST_MAP_MAX_ENTRIES = 'vxm_endpoints=5';
    try {
      lab = new TestLab('bpf');
      // Five endpoints fit; vm-b3 (tenant-b/red, node3) is the sixth, added once everything runs.
      await lab.up(lab.docs.filter((d) => !(d.kind === 'VirtualMachineInstance' && d.metadata.name === 'vm-b3')));
    } finally {
      delete process.env.VXMESH_TEST_MAP_MAX_ENTRIES;
    }
    applied = await lab.apply(lab.docs); // the agents do not get ready: the point of the test
  }, 300_000);
  afterAll(async () => {
    await lab?.down();
  });

  it('fails only the network whose entry does not fit, on every node, and programs the other network and the rest of it', async () => {
    expect(applied.exitCode, 'lab apply reports the agents not ready').not.toBe(0);
    for (const i of [1, 2, 3]) {
      const ready = condition(lab, i, 'Ready')!;
      expect(ready.status).toBe('False');
      expect(ready.message).toBe('tenant-b/red: map entries refused, the rest of the node is programmed: vxm_endpoints: 1 entry (bpf_map_update_elem failed: errno 7 (E2BIG))');
      expect(log(lab, i)).toContain('map entries refused');
      const pinned = path.join(labPaths(lab.name).bpffs(lab.node(i)), 'vxmesh', 'vxm_endpoints');
      expect((JSON.parse((await run(['bpftool', '-j', 'map', 'dump', 'pinned', pinned])).stdout) as unknown[]).length).toBe(5);
    }
    // tenant-a/blue is fully programmed: every VM reaches every other VM of it, and the outside.
    const blue = { 'vm-a1': '10.10.0.2', 'vm-a2': '10.10.0.3', 'vm-a3': '10.10.0.4' };
    for (const from of Object.keys(blue)) {
      for (const [to, ip] of Object.entries(blue)) if (to !== from) expect(`${from}->${await lab.whoAnswers(from, ip)}`).toBe(`${from}->${to}`);
      expect(await lab.whoAnswers(from, '198.18.0.254', 8080)).toMatch(/^198\.18\.0\.1[12]$/);
    }
    // tenant-b/red's endpoints that fit still carry traffic, its gateway and NAT were reconciled after the refusal.
    expect(await lab.whoAnswers('vm-b1', '10.10.0.3')).toBe('vm-b2');
    expect(await lab.whoAnswers('vm-b2', '10.10.0.2')).toBe('vm-b1');
    expect(await lab.whoAnswers('vm-b1', '198.18.0.254', 8080)).toBe('198.18.0.11');
  });
});
