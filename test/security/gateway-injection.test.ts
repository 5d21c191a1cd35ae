/**
 * Red team, gateway and flooding (issue 18), against the real demo lab in each dataplane mode:
 *  - a tenant VM (vm-a1, tenant-a, VNI 100, node1) sends VxLAN for VNI 200 to node3's VTEP through its
 *    gateway: the gateway would masquerade it to node1's underlay address (a member VTEP) and node3 would
 *    decapsulate it into tenant-b's network. It must not reach vm-b2; the same frame sent from node1's own
 *    namespace (a member VTEP) does reach it (the probe detects the hole when there is one);
 *  - a tenant VM cannot reach the nodes' own services or a VTEP port anywhere through the gateway, while
 *    TCP and UDP to the external host pass;
 *  - a broadcast in VNI 100 is replicated to node2 (vm-a2 runs there) and not to node3 (no VM of VNI 100).
 * Run under the netns lock: `flock /tmp/vxm-netns.lock npx vitest run test/security/gateway-injection.test.ts`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, TestLab, waitFor, type Doc } from '../helpers/lab.js';
import { run } from '../../src/util/exec.js';

const PY = '/usr/bin/python3';
const B2_MAC = '02:00:0b:00:01:02';
const C3_MAC = '02:00:0c:00:01:03';
const B2_IP = '10.10.0.3';
const NODE_SERVICE_PORT = 7070;
const EXT_UDP_PORT = 9999;
const EXT = '198.18.0.254';

/** Python building `frame`: VXLAN(vni)/Ether(to vm-b2)/IPv4/ICMP echo (id), the bytes of one UDP payload. */
const frame = (vni: number, icmpId: number, to = { mac: B2_MAC, ip: B2_IP }) => `
from scapy.all import VXLAN, Ether, IP, ICMP, Raw
frame = VXLAN(vni=${vni}, flags=0x08) / Ether(src='02:00:de:ad:be:ef', dst='${to.mac}') / IP(src='10.10.0.2', dst='${to.ip}') / ICMP(type=8, id=${icmpId}, seq=1) / Raw(b'vxm-inject')
`;

/** Python that sends the frame as UDP to dst:dport, `count` times. */
function injector(dst: string, dport: number, vni: number, icmpId: number, count = 3, to?: { mac: string; ip: string }): string {
  return `${frame(vni, icmpId, to)}
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(${count}):
    s.sendto(bytes(frame), ('${dst}', ${dport}))
    time.sleep(0.05)
`;
}

/** A long-running process in a lab namespace (killed by stop()). */
function background(lab: TestLab, target: string, argv: string[]): ChildProcess {
  const p = spawn('ip', ['netns', 'exec', lab.netns(target), ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  p.on('error', () => {});
  return p;
}

function stop(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    p.once('exit', () => resolve());
    p.kill('SIGTERM');
    setTimeout(() => { p.kill('SIGKILL'); resolve(); }, 2000).unref();
  });
}

/**
 * Runs tcpdump (`filter`) on `iface` in `target`'s namespace around `action`; returns how many packets
 * it saw. Waits until tcpdump listens before acting, and a moment after for late packets.
 */
async function capture(lab: TestLab, target: string, iface: string, filter: string, action: () => Promise<unknown>): Promise<number> {
  const p = background(lab, target, ['tcpdump', '-l', '-n', '-i', iface, filter]);
  let out = '';
  let err = '';
  p.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  p.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  try {
    await waitFor(`tcpdump listening in ${target}`, async () => err.includes('listening on'), 5000, 50);
    await action();
    await sleep(800);
  } finally {
    await stop(p);
  }
  // one line per packet starts with its timestamp (tcpdump prints a decoded VxLAN payload on a line of its own)
  return out.split('\n').filter((l) => /^\d\d:\d\d:\d\d\.\d+ /.test(l)).length;
}

/** tcpdump filter: VxLAN packets of `vni` to `host` (the VNI is the top 24 bits of the UDP payload's second word). */
const vxlanTo = (host: string, vni: number) => `dst host ${host} and udp dst port 4789 and (udp[12:4] >> 8) = ${vni}`;

/** ICMP echo requests with this id arriving at vm-b2's (or `vm`'s) NIC while `action` runs. */
const echoesAtB2 = (lab: TestLab, id: number, action: () => Promise<unknown>, vm = 'vm-b2') =>
  capture(lab, vm, 'eth0', `icmp[icmptype] = 8 and icmp[4:2] = ${id}`, action);

/** Python: UDP broadcasts into the VM's subnet as fast as it can for `seconds`; prints how many it sent. */
const STORM = (bcast: string, seconds: number) => `
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
n, t0 = 0, time.time()
while time.time() - t0 < ${seconds}:
    for _ in range(100):
        try:
            s.sendto(b'vxm-storm', ('${bcast}', 5998)); n += 1
        except OSError:
            time.sleep(0.001)
print(n)
`;

async function udpAnswer(lab: TestLab, from: string, ip: string, port: number): Promise<string> {
  const r = await lab.exec(from, ['socat', '-T', '2', 'STDIO', `UDP:${ip}:${port}`], { input: 'ping\n', timeoutMs: 10_000 });
  return r.exitCode === 0 && r.stdout.trim() ? r.stdout.trim() : '-';
}

/** A UDP server answering every datagram with argv[2] (socat's UDP-RECVFROM,fork drops some under load). */
const UDP_SERVER = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', int(sys.argv[1])))
while True:
    d, a = s.recvfrom(2048)
    s.sendto(sys.argv[2].encode() + b'\\n', a)
`;

/** Python that sends `count` UDP broadcasts (Ethernet ff:ff:ff:ff:ff:ff) into the VM's subnet. */
const BROADCAST = `
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
for _ in range(5):
    s.sendto(b'vxm-broadcast', ('10.10.0.255', 5999))
    time.sleep(0.05)
`;

/**
 * The demo lab plus a second cluster network "edge" on node2 and node3 only (same uplink and port as
 * "overlay"), with tenant-c/green (VNI 300) and vm-c3 on node3: node1 is a member VTEP of overlay, not of edge.
 */
function withEdgeNetwork(lab: TestLab): Doc[] {
  const docs = structuredClone(lab.docs);
  const l = docs.find((d) => d.kind === 'Lab')!;
  for (const n of l.spec.nodes as Array<{ name: string; labels?: Record<string, string> }>) {
    if (n.name !== lab.node(1)) n.labels = { ...n.labels, 'vxmesh.io/edge': 'yes' };
  }
  const overlay = docs.find((d) => d.kind === 'VxlanConfig')!;
  docs.push(
    { apiVersion: 'network.harvesterhci.io/v1beta1', kind: 'ClusterNetwork', metadata: { name: 'edge' } },
    { ...structuredClone(overlay), metadata: { name: 'zz-edge' } /* sorts after overlay-all: the lab tracks the first config's cluster network */, spec: { ...structuredClone(overlay.spec), clusterNetwork: 'edge', nodeSelector: { matchLabels: { 'vxmesh.io/edge': 'yes' } } } },
    { apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanNetwork', metadata: { name: 'green', namespace: 'tenant-c' }, spec: { clusterNetwork: 'edge', vni: 300, cidr: '10.30.0.0/24', natOutgoing: true } },
    {
      apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name: 'vm-c3', namespace: 'tenant-c' },
      spec: { domain: { devices: { interfaces: [{ name: 'nic1', bridge: {}, macAddress: C3_MAC }] } }, networks: [{ name: 'nic1', multus: { networkName: 'tenant-c/green' } }] },
      status: { nodeName: lab.node(3) },
    },
  );
  return docs;
}

const MODES = (process.env.E2E_MODES ?? 'kernel,bpf').split(',').filter(Boolean);

describe.each(MODES)('gateway injection and flooding in %s mode', (mode) => {
  let lab: TestLab;
  const servers: ChildProcess[] = [];

  beforeAll(async () => {
    lab = new TestLab(mode);
    await lab.up(withEdgeNetwork(lab));
    // the nodes' own services, a UDP server on the external host, and one on a VTEP port there
    for (const n of [1, 2]) servers.push(background(lab, lab.node(n), ['socat', `TCP-LISTEN:${NODE_SERVICE_PORT},fork,reuseaddr`, 'SYSTEM:echo node-service']));
    servers.push(background(lab, 'ext', [PY, '-c', UDP_SERVER, String(EXT_UDP_PORT), 'ext-udp']));
    servers.push(background(lab, 'ext', [PY, '-c', UDP_SERVER, '4789', 'ext-vtep-port']));
    await waitFor('UDP servers on the external host', async () =>
      (await udpAnswer(lab, lab.node(2), EXT, EXT_UDP_PORT)) === 'ext-udp' && (await udpAnswer(lab, lab.node(2), EXT, 4789)) === 'ext-vtep-port', 10_000);
  }, 240_000);

  afterAll(async () => {
    await Promise.all(servers.map(stop));
    await lab?.down();
  }, 120_000);

  it('delivers the crafted VNI 200 frame to vm-b2 when a member VTEP (node1 itself) sends it: the probe detects a hole', async () => {
    const n = await echoesAtB2(lab, 4242, () => lab.exec(lab.node(1), [PY, '-c', injector('198.18.0.13', 4789, 200, 4242)]));
    expect(n).toBeGreaterThan(0);
  });

  it('drops the same frame sent by tenant VM vm-a1 through its gateway: vm-b2 receives nothing', async () => {
    const before = await routerGuardDrops(lab, 1, 100);
    let sent = -1;
    const n = await echoesAtB2(lab, 4344, async () => {
      sent = (await lab.exec('vm-a1', [PY, '-c', injector('198.18.0.13', 4789, 200, 4344)])).exitCode;
    });
    expect(sent).toBe(0);
    expect(n).toBe(0);
    // it is the gateway guard that stopped it, in the router of VNI 100 on node1
    expect(await routerGuardDrops(lab, 1, 100)).toBeGreaterThanOrEqual(before + 3);
  });

  it('holds with either layer alone: the router guard emptied, the node guard drops it; both emptied (the old dataplane), it reaches vm-b2', async () => {
    // The frame is prepared once so that emptying the sets and sending are milliseconds apart: the agent
    // puts the elements back on its next pass.
    const file = `/tmp/vxm-${lab.name}-frame.bin`;
    await run([PY, '-c', `${frame(200, 4500)}\nopen('${file}', 'wb').write(bytes(frame))\n`]);
    const router = `vxmr-${lab.node(1)}-100`;
    const flush = (ns: string) => ['guard_vteps', 'guard_node', 'guard_ports'].map((set) => `ip netns exec ${ns} nft flush set inet vxmesh ${set}`).join(' && ');
    const send = `ip netns exec ${lab.netns('vm-a1')} socat -u FILE:${file} UDP:198.18.0.13:4789`;
    // The agent may still put a set back between the flush and the send (a pass every 2 s; on a loaded
    // machine the window is tens of ms): the layer it restored then counts the drop, which the attempt
    // shows, and the attempt is made again (at most 3). A drop no guard counted fails at once.
    const drops = async () => ({ node: await nodeGuardDrops(lab, 1), router: await routerGuardDrops(lab, 1, 100) });
    const restored = () => waitFor('the agent restoring the router guard', async () => (await routerGuardDrops(lab, 1, 100, true)) > 0, 15_000, 200);
    try {
      let nodeAlone = false;
      for (let i = 0; i < 3 && !nodeAlone; i++) {
        await restored();
        const before = await drops();
        expect(await echoesAtB2(lab, 4500, () => run(['bash', '-c', `${flush(router)} && ${send}`]))).toBe(0);
        const after = await drops();
        nodeAlone = after.node === before.node + 1;
        if (!nodeAlone) expect(after.router, 'dropped by no guard at all').toBe(before.router + 1);
      }
      expect(nodeAlone, 'the node guard alone dropped it in one of 3 attempts').toBe(true);
      let through = false;
      for (let i = 0; i < 3 && !through; i++) {
        await restored();
        const before = await drops();
        through = (await echoesAtB2(lab, 4500, () => run(['bash', '-c', `${flush(router)} && ${flush(lab.netns(lab.node(1)))} && ${send}`]))) === 1;
        if (!through) {
          const after = await drops();
          expect(after.node + after.router, 'no echo, yet no guard counted a drop').toBeGreaterThan(before.node + before.router);
        }
      }
      expect(through, 'with both layers emptied the frame reached vm-b2 in one of 3 attempts').toBe(true);
    } finally {
      await run(['rm', '-f', file]);
    }
  });

  it('lets a member VTEP inject only into its own cluster network\'s VNIs: node1 (overlay) into VNI 300 (edge) fails, node2 (edge) succeeds', async () => {
    const c3 = { mac: C3_MAC, ip: '10.30.0.2' };
    const fromEdge = await echoesAtB2(lab, 4600, () => lab.exec(lab.node(2), [PY, '-c', injector('198.18.0.13', 4789, 300, 4600, 3, c3)]), 'vm-c3');
    expect(fromEdge).toBeGreaterThan(0);
    const fromOverlay = await echoesAtB2(lab, 4601, () => lab.exec(lab.node(1), [PY, '-c', injector('198.18.0.13', 4789, 300, 4601, 3, c3)]), 'vm-c3');
    expect(fromOverlay).toBe(0);
  });

  it('drops it towards every member VTEP and port, also aimed at node1 (the VM\'s own node) and node2', async () => {
    for (const dst of ['198.18.0.11', '198.18.0.12']) {
      const n = await echoesAtB2(lab, 4400, () => lab.exec('vm-a1', [PY, '-c', injector(dst, 4789, 200, 4400)]));
      expect(n).toBe(0);
    }
  });

  it('still lets vm-a1 reach the external host through the gateway, TCP 8080 and UDP', async () => {
    expect(await lab.whoAnswers('vm-a1', EXT, 8080)).toBe('198.18.0.11');
    expect(await udpAnswer(lab, lab.node(2), EXT, EXT_UDP_PORT)).toBe('ext-udp'); // listening
    expect(await udpAnswer(lab, 'vm-a1', EXT, EXT_UDP_PORT)).toBe('ext-udp');
  });

  it('refuses UDP to a VTEP port at any address (a server on the external host, proven listening from the underlay)', async () => {
    expect(await udpAnswer(lab, lab.node(2), EXT, 4789)).toBe('ext-vtep-port');
    expect(await udpAnswer(lab, 'vm-a1', EXT, 4789)).toBe('-');
  });

  it("refuses a VM's TCP to the nodes' own services (servers proven listening from the external host)", async () => {
    for (const ip of ['198.18.0.11', '198.18.0.12']) {
      expect(await lab.whoAnswers('ext', ip, NODE_SERVICE_PORT)).toBe('node-service');
      expect(await lab.whoAnswers('vm-a1', ip, NODE_SERVICE_PORT)).toBe('-');
      expect(await lab.whoAnswers('vm-a2', ip, NODE_SERVICE_PORT)).toBe('-');
    }
  });

  it('replicates a VNI 100 broadcast to node2 (vm-a2 runs there) and not to node3 (no VM of VNI 100)', async () => {
    // A UDP broadcast, not ARP: kernel mode's proxying vxlan device answers or drops ARP instead of flooding it.
    const broadcast = async () => expect((await lab.exec('vm-a1', [PY, '-c', BROADCAST])).exitCode).toBe(0);
    const atNode2 = await capture(lab, lab.node(2), 'vxmu0', vxlanTo('198.18.0.12', 100), broadcast);
    const atNode3 = await capture(lab, lab.node(3), 'vxmu0', vxlanTo('198.18.0.13', 100), broadcast);
    expect(atNode2).toBeGreaterThanOrEqual(5);
    expect(atNode3).toBe(0);
  });

  it("holds a tenant's broadcast storm to the VNI's replication budget while another tenant's broadcasts still get through", async () => {
    const SECONDS = 2;
    const vni100 = vxlanTo('198.18.0.12', 100);
    const vni200 = vxlanTo('198.18.0.13', 200);
    let sent = 0;
    let otherTenant = 0;
    const replicated = await capture(lab, lab.node(2), 'vxmu0', vni100, async () => {
      const storm = lab.exec('vm-a1', [PY, '-c', STORM('10.10.0.255', SECONDS)], { timeoutMs: 30_000 });
      await sleep(500);
      otherTenant = await capture(lab, lab.node(3), 'vxmu0', vni200, async () => {
        expect((await lab.exec('vm-b1', [PY, '-c', BROADCAST])).exitCode).toBe(0);
      });
      sent = Number((await storm).stdout.trim());
    });
    // budget: 200 at once + 1000/s over the storm (and a little capture slack)
    expect(sent).toBeGreaterThan(3 * (200 + 1000 * SECONDS));
    expect(replicated).toBeGreaterThan(200);
    expect(replicated).toBeLessThanOrEqual(200 + 1000 * (SECONDS + 1));
    expect(otherTenant).toBeGreaterThanOrEqual(5);
  });

  it('runs routers only where the network has a VM: none for VNI 100 on node3, none for VNI 200 on node2', () => {
    const ns = readdirSync('/run/netns');
    expect(ns).toContain(`vxmr-${lab.node(1)}-100`);
    expect(ns).toContain(`vxmr-${lab.node(1)}-200`);
    expect(ns).toContain(`vxmr-${lab.node(2)}-100`);
    expect(ns).toContain(`vxmr-${lab.node(3)}-200`);
    expect(ns).not.toContain(`vxmr-${lab.node(3)}-100`);
    expect(ns).not.toContain(`vxmr-${lab.node(2)}-200`);
  });
});

/** Packets the gateway guard dropped in the router of `vni` on node `n` (sum of its guard counters); with `elements`, how many VTEPs its set holds. */
async function routerGuardDrops(lab: TestLab, n: number, vni: number, elements = false): Promise<number> {
  return guardCount(`vxmr-${lab.node(n)}-${vni}`, elements);
}

/** Packets the node's gateway guard (inet vxmesh forward) dropped on node `n`. */
async function nodeGuardDrops(lab: TestLab, n: number): Promise<number> {
  return guardCount(lab.netns(lab.node(n)));
}

async function guardCount(netns: string, elements = false): Promise<number> {
  const r = await run(['nft', '-j', 'list', 'table', 'inet', 'vxmesh'], { netns });
  const items = (JSON.parse(r.stdout) as { nftables: Array<Record<string, any>> }).nftables;
  if (elements) return ((items.find((i) => i.set?.name === 'guard_vteps')?.set.elem ?? []) as unknown[]).length;
  let sum = 0;
  for (const it of items) {
    const rule = it.rule as { comment?: string; expr?: Array<Record<string, any>> } | undefined;
    if (!rule?.comment?.startsWith('guard-')) continue;
    for (const e of rule.expr ?? []) if (e.counter) sum += Number(e.counter.packets);
  }
  return sum;
}
