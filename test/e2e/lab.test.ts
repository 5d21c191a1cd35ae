/**
 * The demo lab end to end, once per dataplane mode: three nodes each running a real agent, two tenants with
 * the same CIDR, six VMs, an external host. Everything is checked the way a user would: real traffic,
 * who answered, what the external host saw, what `lab status --json` says.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { run } from '../../src/util/exec.js';
import { labPaths, readLabState } from '../../src/lab/state.js';
import { find, parsePing, sleep, TestLab, waitFor, withVm } from '../helpers/lab.js';
import { nodeDataplane } from '../helpers/node-dataplane.js';
import { parseMetrics, samplesOf, sumOf } from '../helpers/metrics.js';

/** vxm_endpoints key of (VNI 100, vm-a2's MAC): u32 vni little-endian, 6 MAC bytes, 2 pad bytes. */
const A2_ENDPOINT_KEY = '64 00 00 00 02 00 0a 00 01 02 00 00';

async function endpointKeys(pinned: string): Promise<string[][]> {
  const r = await run(['bpftool', '-j', 'map', 'dump', 'pinned', pinned]);
  return (JSON.parse(r.stdout) as Array<{ key: string[] }>).map((e) => e.key.map((b) => b.replace(/^0x/, '')));
}

// Every end-to-end test runs in both modes; E2E_MODES=kernel (or bpf) narrows it while debugging.
/** "Within one resync": the lab's agents resync every 2 s (`--resync 2`), plus one pass to repair. */
const ONE_RESYNC_MS = 2000 + 1000;
const MODES = (process.env.E2E_MODES ?? 'kernel,bpf').split(',').filter(Boolean);
/** Every agent of the lab serves /healthz, /readyz and /metrics here (VXMESH_HEALTH_PORT, inherited through the lab CLI). */
const HEALTH = 19441;
/**
 * Pings lost at 10 ms during a live migration in the lab, median of three (README, Performance): a bound
 * that catches a regression, not a speed target. Since 2026-12-02 the lab plugs the target pod before the
 * switchover and the guest's announcement really goes out (it never did before: arping refused '-i 0.1'),
 * so in bpf mode the data plane moves the guest by itself: 0 of 500 lost in 6 of 6 migrations that day
 * (before: medians 10-31 on the busy machine). Kernel mode waits for the agents to see the completed VMI
 * (static FDB; a unicast vxlan FDB entry cannot hold two destinations): medians 25-55 on the busy machine.
 */
const MIGRATION_LOST = { bpf: 5, kernel: 80 } as Record<string, number>;
/** The lab's agents probe their peer VTEPs every second (VXMESH_PEER_PROBE_INTERVAL, inherited like the health port). */
const PEER_PROBE_S = 1;
/** A peer is reported unreachable after 3 rounds without a reply; the bound adds a round and the scrapes. */
const PEER_DOWN_BOUND_MS = (3 + 1) * PEER_PROBE_S * 1000 + 4000;

describe.each(MODES)('the demo lab in %s mode', (mode) => {
  let lab: TestLab;

  const saved = process.env.VXMESH_HEALTH_PORT;
  const savedProbe = process.env.VXMESH_PEER_PROBE_INTERVAL;
  beforeAll(async () => {
    process.env.VXMESH_HEALTH_PORT = String(HEALTH);
    process.env.VXMESH_PEER_PROBE_INTERVAL = String(PEER_PROBE_S);
    lab = new TestLab(mode);
    await lab.up();
  });

  afterAll(async () => {
    if (saved === undefined) delete process.env.VXMESH_HEALTH_PORT;
    else process.env.VXMESH_HEALTH_PORT = saved;
    if (savedProbe === undefined) delete process.env.VXMESH_PEER_PROBE_INTERVAL;
    else process.env.VXMESH_PEER_PROBE_INTERVAL = savedProbe;
    await lab?.down();
  });

  /** `<status code> <body>` of GET path on a node's health port. */
  async function http(node: string, urlPath: string): Promise<string> {
    const r = await lab.exec(node, ['curl', '-s', '-w', ' %{http_code}', `http://127.0.0.1:${HEALTH}${urlPath}`]);
    const m = /^([\s\S]*) (\d{3})$/.exec(r.stdout);
    return m ? `${m[2]} ${m[1]!.trim()}` : `curl failed: ${r.stdout}${r.stderr}`;
  }
  async function scrape(node: string) {
    const r = await http(node, '/metrics');
    expect(r.slice(0, 4)).toBe('200 ');
    return { text: r.slice(4), samples: parseMetrics(r.slice(4)) };
  }
  const agentLog = (node: string) => readFileSync(labPaths(lab.name).log(node), 'utf8');
  const pinDir = (node: string) => path.join(labPaths(lab.name).bpffs(node), 'vxmesh');

  it('reports every node ready in the requested mode and every VM with its address (status --json)', async () => {
    const s = await lab.status();
    expect(s.lab).toBe(lab.name);
    expect(s.nodes.map((n) => [n.name, n.underlayIP, n.mode, n.agentReady])).toEqual([
      [lab.node(1), '198.18.0.11', mode, true],
      [lab.node(2), '198.18.0.12', mode, true],
      [lab.node(3), '198.18.0.13', mode, true],
    ]);
    expect(s.nodes[0]!.netns).toBe(lab.netns(lab.node(1)));
    const vms = Object.fromEntries(s.vms.map((v) => [v.name, v]));
    expect(Object.keys(vms).sort()).toEqual(['vm-a1', 'vm-a2', 'vm-a3', 'vm-b1', 'vm-b2', 'vm-b3']);
    expect(vms['vm-a1']).toMatchObject({ namespace: 'tenant-a', node: lab.node(1), netns: lab.netns('vm-a1') });
    expect(vms['vm-a1']!.interfaces).toEqual([{
      name: 'nic1', network: 'tenant-a/blue', mac: '02:00:0a:00:01:01', ip: '10.10.0.2',
      // what the guest holds: its allocation, by DHCP from the gateway
      guest: { addressing: 'dhcp', ip: '10.10.0.2/24', lease: expect.objectContaining({ ip: '10.10.0.2', router: '10.10.0.1', mtu: 1450, server: '10.10.0.1' }) },
    }]);
    // The same addresses in both tenants; the fixed-IP annotation is honoured.
    expect(vms['vm-b1']!.interfaces[0]!.ip).toBe('10.10.0.2');
    expect(vms['vm-b3']!.interfaces[0]!.ip).toBe('10.10.0.50');
  });

  it('carries ping and TCP between VMs on different nodes and on the same node', async () => {
    expect(await lab.ping('vm-a1', '10.10.0.3')).toBe(true); // a1 (n1) -> a2 (n2)
    expect(await lab.ping('vm-a1', '10.10.0.4')).toBe(true); // a1 (n1) -> a3 (n1)
    expect(await lab.whoAnswers('vm-a1', '10.10.0.3')).toBe('vm-a2');
    expect(await lab.whoAnswers('vm-a2', '10.10.0.4')).toBe('vm-a3');
    expect(await lab.whoAnswers('vm-a3', '10.10.0.2')).toBe('vm-a1');
    expect(await lab.whoAnswers('vm-b2', '10.10.0.50')).toBe('vm-b3'); // same node (n3)
    expect(await lab.ping('vm-a2', '10.10.0.1')).toBe(true); // the distributed gateway
  });

  it('serves /healthz, /readyz and /metrics on every node: ready, the entries the node holds, packet counters in bpf mode only', async () => {
    for (const i of [1, 2, 3]) {
      const node = lab.node(i);
      expect(await http(node, '/healthz')).toBe('200 ok');
      expect(await http(node, '/readyz')).toBe('200 ok');
      const { samples } = await scrape(node);
      expect(sumOf(samples, 'vxmesh_agent_ready'), node).toBe(1);
      expect(sumOf(samples, 'vxmesh_reconcile_duration_seconds_count', { result: 'ok' }), node).toBeGreaterThanOrEqual(1);
      expect(sumOf(samples, 'vxmesh_reconcile_errors_total'), node).toBe(0);
      expect(sumOf(samples, 'vxmesh_invalid_objects'), node).toBe(0);
      expect(sumOf(samples, 'vxmesh_passes_held_total'), node).toBe(0);
    }
    // vxmesh_entries_programmed is what node 1 holds, counted the way an operator would.
    const node = lab.node(1);
    const { samples } = await scrape(node);
    const programmed = (kind: string) => sumOf(samples, 'vxmesh_entries_programmed', { kind });
    if (mode === 'bpf') {
      for (const map of ['vxm_ports', 'vxm_endpoints', 'vxm_arp', 'vxm_vteps']) {
        const held = (JSON.parse((await run(['bpftool', '-j', 'map', 'dump', 'pinned', path.join(pinDir(node), map)])).stdout) as unknown[]).length;
        expect(`${map} ${programmed(map)}`).toBe(`${map} ${held}`);
      }
      expect(programmed('vxm_endpoints')).toBe(6); // the six VMs of the two networks
      expect(samplesOf(samples, 'vxmesh_entries_programmed', { kind: 'fdb' })).toEqual([]);
    } else {
      // static FDB: one flood entry per peer holding the VNI, and per remote VM MAC the tunnel entry and its
      // `master static` mirror; permanent neighbours: one per remote VM address
      const fdb = (await lab.exec(node, ['bridge', 'fdb', 'show'])).stdout.split('\n')
        .filter((l) => / dev vxl\d+ /.test(l) && (/ dst \S+ self permanent/.test(l) || / master vxb\d+ static/.test(l)));
      const neigh = (await lab.exec(node, ['ip', 'neigh', 'show', 'nud', 'permanent'])).stdout.split('\n').filter((l) => / dev vxl\d+ /.test(l));
      expect({ fdb: programmed('fdb'), neigh: programmed('neigh') }).toEqual({ fdb: fdb.length, neigh: neigh.length });
      expect({ fdb: fdb.length, neigh: neigh.length }).toEqual({ fdb: 2 + 2 * 3, neigh: 3 }); // vm-a2, vm-b2, vm-b3 are remote
      expect(samplesOf(samples, 'vxmesh_entries_programmed', { kind: 'vxm_endpoints' })).toEqual([]);
    }
    // Packet counters: vm-a1 (node 1) pings vm-a2 (node 2) through the tunnel.
    const before = (await scrape(node)).samples;
    expect((await lab.exec('vm-a1', ['ping', '-c', '5', '-i', '0.1', '-W', '1', '-q', '10.10.0.3'])).exitCode).toBe(0);
    const { text, samples: after } = await scrape(node);
    expect(text).toContain('# TYPE vxmesh_packets_total counter');
    const tunnel = { vni: '100', verdict: 'forwarded-tunnel' };
    if (mode === 'bpf') {
      expect(sumOf(after, 'vxmesh_packets_total', tunnel) - sumOf(before, 'vxmesh_packets_total', tunnel)).toBeGreaterThanOrEqual(5);
      expect(sumOf(after, 'vxmesh_bytes_total', tunnel) - sumOf(before, 'vxmesh_bytes_total', tunnel)).toBeGreaterThanOrEqual(5 * 84);
    } else {
      // kernel mode keeps no per-VNI verdict counters: the family is there, without samples
      expect(samplesOf(after, 'vxmesh_packets_total')).toEqual([]);
      expect(samplesOf(after, 'vxmesh_bytes_total')).toEqual([]);
    }
  });

  it('reports every peer VTEP reachable on every node; a node the underlay cannot reach is reported unreachable by the others within the bound, and back', async () => {
    const vtep = (i: number) => `198.18.0.1${i}`;
    /** peer_vtep -> value of vxmesh_vtep_peer_reachable as node i reports it (and the node label each carries). */
    const peersOf = async (i: number) => Object.fromEntries(samplesOf((await scrape(lab.node(i))).samples, 'vxmesh_vtep_peer_reachable', { cluster_network: 'overlay' })
      .map((x) => [x.labels.peer_vtep!, `${x.labels.peer_node} ${x.value}`]));
    const all = (i: number, down?: number) => Object.fromEntries([1, 2, 3].filter((j) => j !== i).map((j) => [vtep(j), `${lab.node(j)} ${j === down || i === down ? 0 : 1}`]));
    const reports = async (down?: number) => {
      for (const i of [1, 2, 3]) if (JSON.stringify(await peersOf(i)) !== JSON.stringify(all(i, down))) return false;
      return true;
    };
    // Positive control: the real agents see each other over the real underlay, with an RTT.
    await waitFor('every node to report both peers reachable', () => reports(), 4 * PEER_PROBE_S * 1000 + 4000);
    for (const i of [1, 2, 3]) expect(await peersOf(i), lab.node(i)).toEqual(all(i));
    const rtts = samplesOf((await scrape(lab.node(1))).samples, 'vxmesh_vtep_peer_rtt_seconds');
    expect(rtts.map((x) => x.labels.peer_vtep)).toEqual([vtep(2), vtep(3)]);
    for (const r of rtts) expect(r.value).toBeGreaterThan(0);
    console.log(`[${mode}] peer RTTs from node 1: ${rtts.map((r) => `${r.labels.peer_vtep} ${(r.value * 1e6).toFixed(0)} µs`).join(', ')}`);
    // The underlay switch (the lab's namespace ul) drops everything from and to node 3; node 3 itself is untouched.
    const drop = `table bridge vxm_peer_fault {\n chain vxm_drop {\n  type filter hook forward priority 0;\n  ip saddr ${vtep(3)} drop\n  ip daddr ${vtep(3)} drop\n }\n}\n`;
    const r = await lab.exec('ul', ['nft', '-f', '-'], { input: drop });
    expect(r.exitCode, r.stderr).toBe(0);
    try {
      const ms = await waitFor('nodes 1 and 2 to report node 3 unreachable, node 3 both', () => reports(3), PEER_DOWN_BOUND_MS, 250);
      console.log(`[${mode}] node 3 cut off the underlay: reported unreachable after ${ms} ms (bound ${PEER_DOWN_BOUND_MS} ms, probes every ${PEER_PROBE_S} s, 3 misses)`);
      expect(await peersOf(1)).toEqual({ [vtep(2)]: `${lab.node(2)} 1`, [vtep(3)]: `${lab.node(3)} 0` });
      expect(await peersOf(2)).toEqual({ [vtep(1)]: `${lab.node(1)} 1`, [vtep(3)]: `${lab.node(3)} 0` });
      // What the metric stands for: the tunnel to node 3 is down, the one between nodes 1 and 2 is not.
      expect(await lab.ping('vm-b1', '10.10.0.3')).toBe(false); // b1 (n1) -> b2 (n3)
      expect(await lab.ping('vm-a1', '10.10.0.3')).toBe(true); // a1 (n1) -> a2 (n2)
    } finally {
      await lab.exec('ul', ['nft', 'delete', 'table', 'bridge', 'vxm_peer_fault']);
    }
    const back = await waitFor('every peer reachable again', () => reports(), 2 * PEER_PROBE_S * 1000 + 4000, 250);
    console.log(`[${mode}] node 3 back on the underlay: reported reachable after ${back} ms`);
    expect(await lab.ping('vm-b1', '10.10.0.3')).toBe(true);
  });

  it('keeps overlapping tenants apart: the same IP reaches the VM of the same network only', async () => {
    // 10.10.0.2 and 10.10.0.3 exist in both tenants.
    expect(await lab.whoAnswers('vm-a2', '10.10.0.2')).toBe('vm-a1');
    expect(await lab.whoAnswers('vm-b2', '10.10.0.2')).toBe('vm-b1');
    expect(await lab.whoAnswers('vm-b1', '10.10.0.3')).toBe('vm-b2');
    expect(await lab.whoAnswers('vm-a1', '10.10.0.3')).toBe('vm-a2');
    // Addresses that exist only in the other tenant are unreachable.
    expect(await lab.whoAnswers('vm-a1', '10.10.0.50')).toBe('-');
    expect(await lab.whoAnswers('vm-b1', '10.10.0.4')).toBe('-');
  });

  it("NATs egress: the external host sees the VM's node underlay address", async () => {
    expect(await lab.whoAnswers('vm-a1', '198.18.0.254', 8080)).toBe('198.18.0.11');
    expect(await lab.whoAnswers('vm-a2', '198.18.0.254', 8080)).toBe('198.18.0.12');
    expect(await lab.whoAnswers('vm-b2', '198.18.0.254', 8080)).toBe('198.18.0.13');
  });

  it('sends no ARP over the underlay for a known VM', async () => {
    await lab.exec('vm-a1', ['ip', 'neigh', 'flush', 'all']);
    const cap = lab.exec('ul', ['timeout', '4', 'tcpdump', '-l', '-n', '-i', 'vxmsw0', 'udp', 'port', '4789'], { timeoutMs: 10_000 });
    await sleep(800);
    expect(await lab.ping('vm-a1', '10.10.0.3', 3)).toBe(true);
    const out = (await cap).stdout;
    expect(out).toMatch(/ICMP echo request/); // the capture saw the overlay traffic …
    expect(out).not.toMatch(/ARP/); // … and no ARP inside it
  });

  it('repairs drift within one resync (a gateway leg deleted by hand comes back)', async () => {
    await lab.exec(lab.node(2), ['ip', 'link', 'del', 'vxg100']);
    const ms = await waitFor('vxg100 back on node 2', async () => (await lab.exec(lab.node(2), ['ip', 'link', 'show', 'vxg100'])).exitCode === 0, ONE_RESYNC_MS);
    console.log(`[${mode}] gateway leg repaired after ${ms} ms`);
    await waitFor('gateway reachable again', () => lab.ping('vm-a2', '10.10.0.1'), 5000);
  });

  it('repairs drift within one resync (a forwarding entry for a remote VM deleted by hand comes back)', async () => {
    // kernel: the FDB entry of vm-a2's MAC on node 1; bpf: vm-a2's entry in node 1's endpoint map.
    const node = lab.node(1);
    const pinned = `/run/vxmesh/${lab.name}/${node}/bpffs/vxmesh/vxm_endpoints`;
    const entry = mode === 'kernel'
      ? async () => /02:00:0a:00:01:02 dst 198\.18\.0\.12 self permanent/.test((await lab.exec(node, ['bridge', 'fdb', 'show', 'dev', 'vxl100'])).stdout)
      : async () => (await endpointKeys(pinned)).some((k) => k.join(' ') === A2_ENDPOINT_KEY);
    expect(await entry()).toBe(true);
    if (mode === 'kernel') await lab.exec(node, ['bridge', 'fdb', 'del', '02:00:0a:00:01:02', 'dev', 'vxl100', 'dst', '198.18.0.12', 'self']);
    else await run(['bpftool', 'map', 'delete', 'pinned', pinned, 'key', 'hex', ...A2_ENDPOINT_KEY.split(' ')]);
    expect(await entry()).toBe(false);
    const ms = await waitFor('the entry back', entry, ONE_RESYNC_MS);
    console.log(`[${mode}] forwarding entry repaired after ${ms} ms`);
    expect(await lab.whoAnswers('vm-a1', '10.10.0.3')).toBe('vm-a2');
  });

  it('keeps traffic flowing across an agent restart, and the restarted agent reprograms nothing', async () => {
    const node = lab.node(1);
    const snapshot = () => nodeDataplane(lab.netns(node), { node, pinDir: pinDir(node), programs: true });
    const before = await snapshot();
    const logFrom = agentLog(node).length;
    const ping = lab.exec('vm-a1', ['ping', '-i', '0.01', '-c', '400', '-q', '10.10.0.3'], { timeoutMs: 30_000 });
    await sleep(500);
    const r = await lab.cli(['lab', 'restart', node, '--lab', lab.name]);
    expect(r.exitCode, r.stderr).toBe(0);
    const stats = parsePing((await ping).stdout);
    console.log(`[${mode}] agent restart: ${stats.lost} of ${stats.transmitted} pings lost`);
    expect(stats.lost).toBe(0); // README: 0 lost pings at 10 ms across a restart, both modes
    // The new agent made its passes (ready, counted) and changed nothing: no pass with changes was logged,
    // and devices (ifindexes), FDB, neighbours, nft rules (handles), TC programs and maps (ids) are the same.
    const lines = agentLog(node).slice(logFrom).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; changes?: number });
    expect(lines.filter((l) => l.msg === 'agent starting')).toHaveLength(1);
    expect(sumOf((await scrape(node)).samples, 'vxmesh_reconcile_duration_seconds_count', { result: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(lines.filter((l) => (l.msg === 'reconciled' && (l.changes ?? 0) > 0) || l.msg === 'reconcile finished with errors')).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });

  it(`live-migrates a VM losing at most ${MIGRATION_LOST[mode]} pings at 10 ms (median of three), and the VM keeps its address`, async () => {
    const lost: number[] = [];
    // node3 -> node2 -> node3 -> node2: the last move leaves vm-b2 on node 2 for the checks below
    for (const to of [2, 3, 2]) {
      const logFrom = agentLog(lab.node(to)).length;
      const ping = lab.exec('vm-b1', ['ping', '-i', '0.01', '-c', '500', '-q', '10.10.0.3'], { timeoutMs: 30_000 });
      await sleep(800);
      const r = await lab.cli(['lab', 'migrate', 'vm-b2', '--to', lab.node(to), '--lab', lab.name]);
      expect(r.exitCode, r.stderr).toBe(0);
      if (mode === 'bpf') {
        // The target programmed the arriving port in its fast lane, not only in the pass that followed.
        const fast = agentLog(lab.node(to)).slice(logFrom).split('\n').filter((l) => l.includes('"ports programmed"'));
        expect(fast.some((l) => (JSON.parse(l) as { changes: number }).changes > 0), 'a "ports programmed" line with changes on the target').toBe(true);
      }
      const stats = parsePing((await ping).stdout);
      console.log(`[${mode}] migration to node ${to}: ${stats.lost} of ${stats.transmitted} pings lost (${stats.lost * 10} ms at 10 ms/ping); ${r.stdout.trim()}`);
      lost.push(stats.lost);
    }
    const median = [...lost].sort((a, b) => a - b)[1]!;
    console.log(`[${mode}] migration: median ${median} lost (${lost.join(', ')})`);
    expect(median).toBeLessThanOrEqual(MIGRATION_LOST[mode]!);
    // Each move plugged a new target pod by CNI ADD and removed the source pod by CNI DEL, as KubeVirt's:
    // one port on the whole lab is bound to vm-b2, on node 2 (the third pod's), the guest has its NIC and no
    // leftover, and the target pods' sandboxes are gone.
    const state = (await readLabState(lab.name))!;
    const b2 = state.vms.find((v) => v.name === 'vm-b2')!;
    expect(b2.pod).toBe(3);
    const bound: string[] = [];
    for (const n of state.nodes) {
      const links = JSON.parse((await run(['ip', '-j', 'link', 'show'], { netns: n.netns })).stdout) as Array<{ ifname: string; ifalias?: string }>;
      for (const l of links) if (l.ifalias?.startsWith('vxmesh/tenant-b/vm-b2/')) bound.push(`${n.name}:${l.ifname}`);
    }
    expect(bound).toEqual([`${lab.node(2)}:${b2.interfaces[0]!.port}`]);
    const guestLinks = JSON.parse((await run(['ip', '-j', 'link', 'show'], { netns: b2.netns })).stdout) as Array<{ ifname: string }>;
    expect(guestLinks.map((l) => l.ifname).sort()).toEqual(['eth0', 'lo']);
    const netns = JSON.parse((await run(['ip', '-j', 'netns', 'list'])).stdout || '[]') as Array<{ name: string }>;
    expect(netns.map((n) => n.name).filter((n) => n.startsWith(`${b2.netns}-m`))).toEqual([]);
    const s = await lab.status();
    expect(s.vms.find((v) => v.name === 'vm-b2')).toMatchObject({ node: lab.node(2), interfaces: [{ ip: '10.10.0.3', mac: '02:00:0b:00:01:02' }] });
    expect(await lab.whoAnswers('vm-b3', '10.10.0.3')).toBe('vm-b2');
    expect(await lab.ping('vm-b2', '10.10.0.1')).toBe(true); // same gateway IP and MAC on the new node
    expect(await lab.whoAnswers('vm-b2', '198.18.0.254', 8080)).toBe('198.18.0.12'); // NAT now from node 2
  });

  it('adds and removes VMs with lab apply, keeping the addresses of the others', async () => {
    const r = await lab.apply(withVm(lab.docs, 'vm-a3', { name: 'vm-a4', mac: '02:00:0a:00:01:04', node: lab.node(3) }));
    expect(r.exitCode, r.stderr).toBe(0);
    const vm = (await lab.status()).vms.find((v) => v.name === 'vm-a4');
    expect(vm?.interfaces[0]?.ip).toBe('10.10.0.5'); // the lowest free address
    expect(await lab.whoAnswers('vm-a1', '10.10.0.5')).toBe('vm-a4');
    const back = await lab.apply(lab.docs);
    expect(back.exitCode, back.stderr).toBe(0);
    const after = await lab.status();
    expect(after.vms.map((v) => v.name)).not.toContain('vm-a4');
    expect(after.vms.find((v) => v.name === 'vm-b2')?.node).toBe(lab.node(2)); // apply does not undo a migration
    expect(await lab.whoAnswers('vm-a1', '10.10.0.5')).toBe('-');
  });

  describe('rejects bad input with an error naming the edited object and field, and traffic keeps flowing', () => {
    const cases: Array<[string, (docs: any[]) => any[] | string, RegExp]> = [
      ['a duplicate VNI', (d) => (find(d, 'VxlanNetwork', 'red').spec.vni = 100, d), /VxlanNetwork tenant-b\/red: spec\.vni 100 is already in use/],
      ['a duplicate VNI (the edited network sorts first)', (d) => (find(d, 'VxlanNetwork', 'blue').spec.vni = 200, d), /VxlanNetwork tenant-a\/blue: spec\.vni 200 is already in use/],
      ['a duplicate MAC (the edited VM sorts first)', (d) => (find(d, 'VirtualMachineInstance', 'vm-a1').spec.domain.devices.interfaces[0].macAddress = '02:00:0a:00:01:02', d), /VirtualMachineInstance tenant-a\/vm-a1: spec\.domain\.devices\.interfaces\[nic1\]\.macAddress 02:00:0a:00:01:02 is already in use/],
      ['a gateway outside the CIDR', (d) => (find(d, 'VxlanNetwork', 'blue').spec.gateway = '10.20.0.1', d), /VxlanNetwork tenant-a\/blue: spec\.gateway 10\.20\.0\.1 is not inside/],
      ['a duplicate MAC', (d) => (find(d, 'VirtualMachineInstance', 'vm-a2').spec.domain.devices.interfaces[0].macAddress = '02:00:0a:00:01:01', d), /VirtualMachineInstance tenant-a\/vm-a2: spec\.domain\.devices\.interfaces\[nic1\]\.macAddress 02:00:0a:00:01:01 is already in use/],
      ['a duplicate fixed IP', (d) => (find(d, 'VirtualMachineInstance', 'vm-b1').metadata.annotations = { 'network.vxmesh.io/ip-address': '10.10.0.50' }, d), /VirtualMachineInstance tenant-b\/vm-b1: metadata\.annotations\["network\.vxmesh\.io\/ip-address"\] 10\.10\.0\.50 is already requested/],
      ['an unknown network', (d) => (find(d, 'VirtualMachineInstance', 'vm-a2').spec.networks[0].multus.networkName = 'tenant-a/green', d), /VirtualMachineInstance tenant-a\/vm-a2: spec\.networks\[0\]\.multus\.networkName tenant-a\/green: no such VxlanNetwork/],
      ['a VNI out of range', (d) => (find(d, 'VxlanNetwork', 'blue').spec.vni = 16777216, d), /VxlanNetwork tenant-a\/blue: spec\.vni not in 1\.\.16777215/],
      ['malformed YAML', () => 'apiVersion: v1\nkind: [unclosed\n', /malformed YAML/],
    ];
    it.each(cases)('%s', async (_what, mutate, message) => {
      const bad = mutate(structuredClone(lab.docs));
      const r = await lab.apply(typeof bad === 'string' ? bad : bad);
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/nothing was changed/);
      expect(await lab.whoAnswers('vm-a1', '10.10.0.3')).toBe('vm-a2');
      expect(await lab.whoAnswers('vm-b1', '10.10.0.3')).toBe('vm-b2');
    });
  });

  it('reports an invalid object written straight into the state and keeps serving its last good version', async () => {
    const dir = `/run/vxmesh/${lab.name}/state`;
    const orig = (await run(['cat', `${dir}/cluster.yaml`])).stdout;
    try {
      await run(['sh', '-c', `sed 's/vni: 100/vni: 0/' ${dir}/cluster.yaml > ${dir}/.x && mv ${dir}/.x ${dir}/cluster.yaml`]);
      await run(['sh', '-c', `printf 'kind: [broken\\n' > ${dir}/broken.yaml`]);
      const log = `/run/vxmesh/${lab.name}/logs/${lab.node(1)}.log`;
      await waitFor('the agent to report both', async () => {
        const text = (await run(['cat', log])).stdout;
        return /VxlanNetwork tenant-a\/blue: spec\.vni/.test(text) && /malformed YAML/.test(text);
      }, 8000);
      await sleep(2500); // a resync with the bad input in place
      expect(await lab.whoAnswers('vm-a1', '10.10.0.3')).toBe('vm-a2');
      expect((await lab.status()).nodes.every((n) => n.agentReady)).toBe(true);
      // counted (the network and the malformed file), and the node stays ready
      expect(await http(lab.node(1), '/readyz')).toBe('200 ok');
      const { samples } = await scrape(lab.node(1));
      expect(sumOf(samples, 'vxmesh_invalid_objects')).toBe(2);
      expect(sumOf(samples, 'vxmesh_agent_ready')).toBe(1);
    } finally {
      await run(['rm', '-f', `${dir}/broken.yaml`]);
      await run(['sh', '-c', `cat > ${dir}/.x && mv ${dir}/.x ${dir}/cluster.yaml`], { input: orig });
    }
  });

  it('lab exec runs a command in a VM and returns its exit status', async () => {
    const ok = await lab.cli(['lab', 'exec', 'vm-a1', '--lab', lab.name, '--', 'ip', '-br', 'addr', 'show', 'eth0']);
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toMatch(/10\.10\.0\.2\/24/);
    const bad = await lab.cli(['lab', 'exec', 'vm-a1', '--lab', lab.name, '--', 'false']);
    expect(bad.exitCode).toBe(1);
  });

  it('lab down removes everything it created, and running it again is harmless', async () => {
    expect((await lab.down()).exitCode).toBe(0);
    const ns = (await run(['ip', 'netns', 'list'])).stdout;
    expect(ns).not.toMatch(new RegExp(`vxm-${lab.name}-|vxmr-${lab.name}n`));
    expect((await run(['cat', '/proc/mounts'])).stdout).not.toMatch(new RegExp(`/run/vxmesh/${lab.name}`));
    expect((await run(['test', '-e', `/run/vxmesh/${lab.name}`], { allowFailure: true })).exitCode).not.toBe(0);
    expect((await lab.down()).exitCode).toBe(0);
  });
});
