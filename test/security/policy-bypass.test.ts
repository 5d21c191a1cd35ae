/**
 * Red team: traffic policies and DHCP against a hostile tenant VM, once per dataplane mode, on the demo lab
 * (tenant-a/blue VNI 100: vm-a1 10.10.0.2 "web" and vm-a3 10.10.0.4 "other" on node1, vm-a2 10.10.0.3
 * "client" on node2; tenant-b/red VNI 200, the same CIDR: vm-b1 10.10.0.2 on node1 — given vm-a1's MAC —,
 * vm-b3 10.10.0.4 on node3). Every attack is mounted from a lab VM with real frames (scapy, socat) and
 * stands next to a positive control: the same traffic, legitimate, passes; receivers are proven listening
 * (a server that answers, or a capture that sees the legitimate frames).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { find, sleep, TestLab, waitFor, type Doc } from '../helpers/lab.js';

const MODES = (process.env.E2E_MODES ?? 'kernel,bpf').split(',').filter(Boolean);
const DHCP_DIR = process.env.VXMESH_DHCP_DIR ?? '/run/vxmesh-dhcp';
const A1 = '10.10.0.2';
const A2 = '10.10.0.3';
const A3 = '10.10.0.4';
const MAC = { a1: '02:00:0a:00:01:01', a2: '02:00:0a:00:01:02', a3: '02:00:0a:00:01:03', b3: '02:00:0b:00:01:03', gw100: '02:76:6d:00:00:64', gw200: '02:76:6d:00:00:c8' };

function policy(ns: string, net: string, name: string, spec: Record<string, unknown>): Doc {
  return {
    apiVersion: 'k8s.cni.cncf.io/v1beta1', kind: 'MultiNetworkPolicy',
    metadata: { name, namespace: ns, annotations: { 'k8s.v1.cni.cncf.io/policy-for': net } },
    spec,
  };
}
const web = { matchLabels: { role: 'web' } };
/** tenant-a: vm-a1 takes TCP 7, UDP 5000 and UDP 67 from clients (vm-a2) only. */
const aWeb = policy('tenant-a', 'blue', 'web', {
  podSelector: web,
  ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }], ports: [{ protocol: 'TCP', port: 7 }, { protocol: 'UDP', port: 5000 }, { protocol: 'UDP', port: 67 }] }],
});
/** tenant-b: vm-b1 (vm-a1's MAC and address) takes TCP 7 from anywhere, nothing else. */
const bWeb = policy('tenant-b', 'red', 'web', { podSelector: web, ingress: [{ ports: [{ protocol: 'TCP', port: 7 }] }] });

/** Sends raw frames from a VM: `frames` is a Python expression over scapy (Ether, IP, UDP, BOOTP, DHCP). */
const scapy = (frames: string, count = 3) => ['/usr/bin/python3', '-c', `from scapy.all import *\nsendp(${frames}, iface='eth0', count=${count}, inter=0.05, verbose=False)`];
const bootp = (chaddr: string) => `BOOTP(op=1, chaddr=bytes.fromhex('${chaddr.replace(/:/g, '')}'), xid=0x5a5a)`;

describe.each(MODES)('policy and DHCP bypass attempts in %s mode', (mode) => {
  let lab: TestLab;
  const procs: ChildProcess[] = [];
  const base = () => lab.docs.filter((d) => d.kind !== 'MultiNetworkPolicy');
  const stateFile = (name: string) => path.join('/run/vxmesh', lab.name, 'state', name);
  const serverLog = () => readFileSync(`${DHCP_DIR}/${lab.node(1)}-100/dnsmasq.log`, 'utf8');

  async function applyPolicies(...policies: Doc[]): Promise<void> {
    const r = await lab.apply([...base(), ...policies]);
    if (r.exitCode !== 0) throw new Error(`lab apply failed: ${r.stdout}\n${r.stderr}`);
  }
  async function tcp(from: string, ip: string, port = 7): Promise<string> {
    const r = await lab.exec(from, ['socat', '-T', '1.5', 'STDIO', `TCP:${ip}:${port},connect-timeout=1.5`], { input: '' });
    return r.exitCode === 0 && r.stdout.trim() ? r.stdout.trim() : '-';
  }
  /** The UDP server's answer (3 tries), '-' when none. */
  async function udp(from: string, ip: string, port: number): Promise<string> {
    for (let i = 0; i < 3; i++) {
      const r = await lab.exec(from, ['socat', '-T', '1', 'STDIO', `UDP:${ip}:${port}`], { input: 'ping\n' });
      if (r.stdout.trim()) return r.stdout.trim();
    }
    return '-';
  }
  /** One datagram from ip:sport (no answer expected). */
  const datagram = (from: string, ip: string, port: number, sport: number) =>
    lab.exec(from, ['socat', '-u', 'STDIO', `UDP4-SENDTO:${ip}:${port},sourceport=${sport},reuseaddr`], { input: 'x\n' });
  /** The lines tcpdump prints on a VM's eth0 while `action` runs (`<src MAC> > <dst MAC>, … <src>.<port> > <dst>.<port>: …`). */
  async function sniff(vm: string, filter: string, action: () => Promise<unknown>, seconds = 5): Promise<string[]> {
    const cap = lab.exec(vm, ['timeout', String(seconds), 'tcpdump', '-i', 'eth0', '-n', '-e', '-t', '-l', filter], { timeoutMs: (seconds + 10) * 1000 });
    await sleep(700);
    await action();
    return (await cap).stdout.split('\n').filter((l) => l.trim());
  }
  function serve(vm: string, argv: string[]): void {
    procs.push(spawn('ip', ['netns', 'exec', lab.netns(vm), ...argv], { stdio: 'ignore' }));
  }
  const listening = async (vm: string, port: number) => (await lab.exec(vm, ['ss', '-Huln', `sport = :${port}`])).stdout.includes(`:${port}`);

  beforeAll(async () => {
    lab = new TestLab(mode);
    find(lab.docs, 'VirtualMachineInstance', 'vm-a1').metadata.labels = { role: 'web' };
    find(lab.docs, 'VirtualMachineInstance', 'vm-a2').metadata.labels = { role: 'client' };
    find(lab.docs, 'VirtualMachineInstance', 'vm-a3').metadata.labels = { role: 'other' };
    const b1 = find(lab.docs, 'VirtualMachineInstance', 'vm-b1');
    b1.metadata.labels = { role: 'web' };
    b1.spec.domain.devices.interfaces[0].macAddress = MAC.a1; // equal MACs in two networks are legal
    find(lab.docs, 'VirtualMachineInstance', 'vm-b3').metadata.annotations['network.vxmesh.io/ip-address'] = A3; // vm-a3's address
    await lab.up();
    const s = await lab.status();
    const ipOf = (vm: string) => s.vms.find((v) => v.name === vm)!.interfaces[0]!.ip;
    expect([ipOf('vm-a1'), ipOf('vm-a2'), ipOf('vm-a3'), ipOf('vm-b1'), ipOf('vm-b3')]).toEqual([A1, A2, A3, A1, A3]);
    for (const p of [5000, 5001]) serve('vm-a1', ['socat', `UDP-RECVFROM:${p},fork`, `SYSTEM:echo udp${p}`]);
    await waitFor('the UDP servers', async () => (await listening('vm-a1', 5000)) && (await listening('vm-a1', 5001)), 5000);
  }, 240_000);

  afterAll(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await lab?.down();
  });

  it('drops unicast IPv4 inside L2 broadcast/multicast to a VM its ingress policy closes; unicast frames from an allowed peer and real broadcasts pass', async () => {
    await applyPolicies(aWeb);
    expect(await udp('vm-a2', A1, 5000)).toBe('udp5000'); // allowed peer, unicast frame, cross node
    expect(await udp('vm-a3', A1, 5000)).toBe('-'); // denied peer, unicast frame
    const seen = await sniff('vm-a1', 'udp and src port 40000', async () => {
      for (const dst of ['ff:ff:ff:ff:ff:ff', '01:00:5e:00:00:01', '33:33:00:00:00:01']) {
        await lab.exec('vm-a3', scapy(`Ether(src='${MAC.a3}', dst='${dst}')/IP(src='${A3}', dst='${A1}')/UDP(sport=40000, dport=5000)/b'x'`));
      }
      await lab.exec('vm-a2', scapy(`Ether(src='${MAC.a2}', dst='ff:ff:ff:ff:ff:ff')/IP(src='${A2}', dst='${A1}')/UDP(sport=40000, dport=5001)/b'x'`));
      // the same crafted frame to the directed broadcast: a real broadcast, delivered
      await lab.exec('vm-a3', scapy(`Ether(src='${MAC.a3}', dst='ff:ff:ff:ff:ff:ff')/IP(src='${A3}', dst='10.10.0.255')/UDP(sport=40000, dport=5000)/b'x'`));
    }, 15); // five scapy processes: ~1 s each on a busy 2-core machine, all inside the capture
    expect(seen.filter((l) => l.includes('10.10.0.255.5000')).length).toBeGreaterThan(0);
    expect(seen.filter((l) => l.includes(`> ${A1}.`))).toEqual([]);
  });

  it('lets UDP 67/68 through a policy only as DHCP: a denied peer cannot reach a port by using them', async () => {
    // UDP 67 between VMs stays on one node (DHCP never crosses the underlay): vm-a3, same node as vm-a1.
    const probe = () => sniff('vm-a1', `udp and dst host ${A1}`, async () => {
      await datagram('vm-a3', A1, 67, 68); // 68 -> 67 used to pass every policy
      await datagram('vm-a3', A1, 5000, 67); // and so did 67 -> 68; a VM's source port 67 never passes
      await datagram('vm-a3', A1, 5000, 5555);
    });
    await applyPolicies(aWeb); // vm-a3 may send vm-a1 nothing
    expect(await probe()).toEqual([]);
    // positive control: the same datagrams once a policy allows UDP 67 and 5000 from vm-a3
    const fromOther = policy('tenant-a', 'blue', 'from-other', { podSelector: web, ingress: [{ from: [{ podSelector: { matchLabels: { role: 'other' } } }], ports: [{ protocol: 'UDP', port: 67 }, { protocol: 'UDP', port: 5000 }] }] });
    await applyPolicies(aWeb, fromOther);
    const seen = await probe();
    expect(seen.filter((l) => l.includes(`${A3}.68 > ${A1}.67`)).length).toBeGreaterThan(0);
    expect(seen.filter((l) => l.includes(`${A3}.5555 > ${A1}.5000`)).length).toBeGreaterThan(0);
    expect(seen.filter((l) => l.includes(`${A3}.67 >`))).toEqual([]);
    // the DHCP client leg itself passes vm-a1's closed ingress both ways
    await applyPolicies(aWeb);
    const r = await lab.exec('vm-a1', ['udhcpc', '-f', '-q', '-n', '-i', 'eth0', '-s', '/bin/true', '-t', '3', '-T', '1'], { timeoutMs: 20_000 });
    expect(r.stderr).toMatch(/lease of 10\.10\.0\.2 obtained from 10\.10\.0\.1/);
  });

  it('drops a rogue DHCP OFFER from a VM to another VM, while the gateway\'s OFFER reaches it', async () => {
    const offer = (mac: string, ip: string, dstMac: string) =>
      `Ether(src='${mac}', dst='${dstMac}')/IP(src='${ip}', dst='255.255.255.255')/UDP(sport=67, dport=68)/BOOTP(op=2, yiaddr='10.10.0.99', siaddr='${ip}', chaddr=bytes.fromhex('${MAC.a1.replace(/:/g, '')}'), xid=0x5a5a)/DHCP(options=[('message-type', 'offer'), ('server_id', '${ip}'), ('router', '${ip}'), ('lease_time', 60), 'end'])`;
    const seen = await sniff('vm-a1', 'udp src port 67', async () => {
      await lab.exec('vm-a3', scapy(offer(MAC.a3, A3, 'ff:ff:ff:ff:ff:ff')));
      await lab.exec('vm-a3', scapy(offer(MAC.a3, A3, MAC.a1)));
      await lab.exec('vm-a2', scapy(offer(MAC.a2, A2, MAC.a1)));
      await lab.exec('vm-a1', ['udhcpc', '-f', '-q', '-n', '-i', 'eth0', '-s', '/bin/true', '-t', '3', '-T', '1'], { timeoutMs: 20_000 });
    }, 8);
    expect(seen.filter((l) => l.startsWith(MAC.gw100)).length).toBeGreaterThan(0); // the real server's OFFER/ACK
    expect(seen.filter((l) => l.startsWith(MAC.a3) || l.startsWith(MAC.a2))).toEqual([]);
  });

  it('ignores DHCPRELEASE and DHCPDECLINE naming another VM\'s MAC: the victim keeps its lease; a VM\'s own release is honoured', async () => {
    const before = serverLog().length;
    const release = (chaddr: string, ip: string) =>
      `Ether(src='${MAC.a3}', dst='${MAC.gw100}')/IP(src='${A3}', dst='10.10.0.1')/UDP(sport=68, dport=67)/BOOTP(op=1, ciaddr='${ip}', chaddr=bytes.fromhex('${chaddr.replace(/:/g, '')}'), xid=0x5a5b)/DHCP(options=[('message-type', 'release'), ('server_id', '10.10.0.1'), 'end'])`;
    const decline = `Ether(src='${MAC.a3}', dst='ff:ff:ff:ff:ff:ff')/IP(src='0.0.0.0', dst='255.255.255.255')/UDP(sport=68, dport=67)/${bootp(MAC.a1)}/DHCP(options=[('message-type', 'decline'), ('requested_addr', '${A1}'), ('server_id', '10.10.0.1'), 'end'])`;
    await lab.exec('vm-a3', scapy(release(MAC.a1, A1), 1));
    await lab.exec('vm-a3', scapy(decline, 1));
    await lab.exec('vm-a3', scapy(release(MAC.a3, A3), 1)); // positive control: its own lease
    await waitFor('the server to log vm-a3\'s own release', async () => /DHCPRELEASE\(gw0\) 10\.10\.0\.4 02:00:0a:00:01:03/.test(serverLog().slice(before)), 5000);
    const log = serverLog().slice(before);
    expect(log).not.toMatch(/DHCP(RELEASE|DECLINE)\(gw0\) 10\.10\.0\.2/);
    expect(log).not.toMatch(/02:00:0a:00:01:01/);
    // vm-a1 renews its lease (unicast REQUEST for the same address): answered, same address
    const r = await lab.exec('vm-a1', ['udhcpc', '-f', '-q', '-n', '-i', 'eth0', '-s', '/bin/true', '-t', '3', '-T', '1', '-r', A1], { timeoutMs: 20_000 });
    expect(r.stderr).toMatch(/lease of 10\.10\.0\.2 obtained/);
    expect((await lab.exec('vm-a3', ['udhcpc', '-f', '-q', '-n', '-i', 'eth0', '-s', '/bin/true', '-t', '3', '-T', '1'], { timeoutMs: 20_000 })).stderr).toMatch(/lease of 10\.10\.0\.4 obtained/);
  });

  it('closes the VMs an invalid policy selects, also after an agent restart, and keeps a policy\'s last good version across a restart', async () => {
    await applyPolicies();
    const files = [stateFile('vxm-bad-policy.yaml'), stateFile('vxm-web-policy.yaml')];
    const write = (file: string, doc: Doc) => writeFileSync(file, JSON.stringify(doc));
    try {
      expect(await tcp('vm-a3', A1)).toBe('vm-a1'); // open: no policy
      // Never valid (endPort < port): it has no last good version; it selects vm-a1.
      write(files[0]!, policy('tenant-a', 'blue', 'bad', { podSelector: web, ingress: [{ ports: [{ protocol: 'TCP', port: 90, endPort: 80 }] }] }));
      await waitFor('vm-a1 to close', async () => (await tcp('vm-a3', A1)) === '-', 10_000);
      expect(await tcp('vm-a2', A1)).toBe('-');
      expect(await tcp('vm-a2', A3)).toBe('vm-a3'); // a VM it does not select stays open
      expect(await tcp('vm-a1', A2)).toBe('vm-a2'); // its direction only (Ingress)
      expect((await lab.cli(['lab', 'restart', lab.node(1), '--lab', lab.name])).exitCode).toBe(0);
      expect(await tcp('vm-a3', A1)).toBe('-');
      expect(await tcp('vm-a2', A1)).toBe('-');
      rmSync(files[0]!);
      // A valid policy, then an invalid edit of it: its last good version stays in force, across a restart.
      write(files[1]!, aWeb);
      await waitFor('the valid policy', async () => (await tcp('vm-a2', A1)) === 'vm-a1', 10_000);
      expect(await tcp('vm-a3', A1)).toBe('-');
      const store = path.join('/run/vxmesh', lab.name, 'agent-state', lab.node(1), 'policies.json');
      await waitFor('the stored last good version', async () => existsSync(store) && readFileSync(store, 'utf8').includes('MultiNetworkPolicy/tenant-a/web'), 5000);
      write(files[1]!, { ...aWeb, spec: { ...aWeb.spec, ingress: [{ ports: [{ protocol: 'ICMP' }] }] } });
      await sleep(3000); // two resyncs
      expect(await tcp('vm-a2', A1)).toBe('vm-a1');
      expect((await lab.cli(['lab', 'restart', lab.node(1), '--lab', lab.name])).exitCode).toBe(0);
      expect(await tcp('vm-a2', A1)).toBe('vm-a1'); // the stand-in alone would deny it
      expect(await tcp('vm-a3', A1)).toBe('-');
    } finally {
      for (const f of files) rmSync(f, { force: true });
    }
  });

  it('keeps two tenants with equal MACs and CIDRs apart: independent policies, and a flow of tenant-a opens no reply in tenant-b', async () => {
    await applyPolicies(aWeb, bWeb);
    expect(await tcp('vm-b3', A1)).toBe('vm-b1'); // tenant-b's policy allows TCP 7 from anywhere
    expect(await tcp('vm-a3', A1)).toBe('-'); // tenant-a's denies vm-a3
    expect(await tcp('vm-a2', A1)).toBe('vm-a1');
    // vm-a1 opens UDP 10.10.0.2:40000 -> 10.10.0.4:5555 (vm-a3); the same tuple reversed is then sent to
    // vm-b1 by vm-b3, which has tenant-b's 10.10.0.4, and to vm-a1 by vm-a3 (the real reply).
    await datagram('vm-a1', A3, 5555, 40000);
    const [inA, inB] = await Promise.all([
      sniff('vm-a1', 'udp and dst port 40000', async () => {
        await sleep(300);
        await datagram('vm-a3', A1, 40000, 5555);
        await datagram('vm-a3', A1, 40000, 5556); // not a reply: vm-a1's ingress is closed to it
      }),
      sniff('vm-b1', 'udp and dst port 40000', async () => {
        for (let i = 0; i < 3; i++) await datagram('vm-b3', A1, 40000, 5555);
      }),
    ]);
    expect(inA.filter((l) => l.includes(`${A3}.5555 > ${A1}.40000`)).length).toBeGreaterThan(0);
    expect(inA.filter((l) => l.includes('.5556 >'))).toEqual([]);
    expect(inB).toEqual([]);
  });

  it('bounds each network\'s share of the flow table: a network that fills its share evicts no other network\'s flow and blocks none of its new ones', async () => {
    await applyPolicies(aWeb, bWeb);
    await datagram('vm-a1', A3, 5555, 40001); // tenant-a's established flow
    // vm-b1 (selected in tenant-b) opens 20000 flows to its gateway (UDP to 20000 ports): over its share.
    const flood = ['/usr/bin/python3', '-c', [
      'from scapy.all import *',
      `frames = [Ether(src='${MAC.a1}', dst='${MAC.gw200}')/IP(src='${A1}', dst='10.10.0.1')/UDP(sport=30000, dport=p)/b'x' for p in range(1, 20001)]`,
      "sendp(frames, iface='eth0', verbose=False)",
    ].join('\n')];
    const f = await lab.exec('vm-b1', flood, { timeoutMs: 120_000 });
    expect(f.exitCode, f.stderr).toBe(0);
    // tenant-b's share is full (bounded), tenant-a's flow is still there and a new one of tenant-a works
    if (mode === 'bpf') {
      const out = (await lab.cli(['lab', 'inspect', lab.node(1), '--lab', lab.name])).stdout;
      const used = Number(/vni 200: (\d+) \/ 16384/.exec(out)?.[1]);
      expect(used).toBeGreaterThan(15000);
      expect(used).toBeLessThanOrEqual(16384);
    } else {
      const r = await lab.exec(lab.node(1), ['nft', '-j', 'list', 'set', 'bridge', 'vxmesh_policy', 'n200_flows']);
      const set = (JSON.parse(r.stdout).nftables as Array<Record<string, any>>).find((x) => x.set)!.set;
      expect(set.elem.length).toBeGreaterThan(15000);
      expect(set.elem.length).toBeLessThanOrEqual(16384);
    }
    await datagram('vm-a1', A3, 5555, 40002); // a new flow of tenant-a, after tenant-b filled its share
    const seen = await sniff('vm-a1', 'udp and (dst port 40001 or dst port 40002 or dst port 40003)', async () => {
      await datagram('vm-a3', A1, 40001, 5555);
      await datagram('vm-a3', A1, 40002, 5555);
      await datagram('vm-a3', A1, 40003, 5555); // never opened: denied
    });
    expect(seen.filter((l) => l.includes(`${A3}.5555 > ${A1}.40001`)).length).toBeGreaterThan(0);
    expect(seen.filter((l) => l.includes(`${A3}.5555 > ${A1}.40002`)).length).toBeGreaterThan(0);
    expect(seen.filter((l) => l.includes('.40003'))).toEqual([]);
  });
});
