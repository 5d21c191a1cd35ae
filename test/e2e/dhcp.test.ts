/**
 * DHCP end to end, once per dataplane mode, with real DHCP clients (BusyBox udhcpc) in the VM namespaces:
 * the demo lab plus DNS options on tenant-b/red and a third network with DHCP off (tenant-c/green, vm-c1).
 * Every node answers its own VMs from their allocation; nothing DHCP ever crosses the underlay.
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/util/exec.js';
import { addVm } from '../../src/lab/topology.js';

/** The probes' ports are bound, as every plugged port is, to a VM NIC that no VMI has. */
const PROBE_NIC = { vm: 'tenant-a/probe', iface: 'nic1' };
import { find, sleep, TestLab, waitFor, type Doc } from '../helpers/lab.js';

const MODES = (process.env.E2E_MODES ?? 'kernel,bpf').split(',').filter(Boolean);
const DHCP_DIR = process.env.VXMESH_DHCP_DIR ?? '/run/vxmesh-dhcp';

function labDocs(lab: TestLab): Doc[] {
  const docs = structuredClone(lab.docs);
  find(docs, 'VxlanNetwork', 'red').spec.dns = { servers: ['192.0.2.53'], search: ['red.example', 'example.org'] };
  docs.push(
    { apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanNetwork', metadata: { name: 'green', namespace: 'tenant-c' }, spec: { clusterNetwork: 'overlay', vni: 300, cidr: '10.30.0.0/24', dhcp: false } },
    {
      apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name: 'vm-c1', namespace: 'tenant-c' },
      spec: { domain: { devices: { interfaces: [{ name: 'nic1', bridge: {}, macAddress: '02:00:0c:00:01:01' }] } }, networks: [{ name: 'nic1', multus: { networkName: 'tenant-c/green' } }] },
      status: { nodeName: lab.node(1) },
    },
  );
  return docs;
}

/** A one-shot DHCP exchange that configures nothing (script /bin/true): exit 0 = got a lease. */
const probeArgv = (tries = 3) => ['udhcpc', '-f', '-q', '-n', '-i', 'eth0', '-s', '/bin/true', '-t', String(tries), '-T', '1', '-O', 'mtu'];

const MALFORMED = `
from scapy.all import Ether, IP, UDP, BOOTP, DHCP, Raw, sendp
import sys
mac, ip = sys.argv[1], sys.argv[2]
hw = bytes.fromhex(mac.replace(':', ''))
l2 = lambda dst_ip, src_ip: Ether(src=mac, dst='ff:ff:ff:ff:ff:ff') / IP(src=src_ip, dst=dst_ip) / UDP(sport=68, dport=67)
frames = [
  l2('255.255.255.255', '0.0.0.0') / Raw(b'\\x01\\x01\\x06'),                                   # truncated BOOTP header
  l2('255.255.255.255', '0.0.0.0') / BOOTP(chaddr=hw, options=b'\\x63\\x82\\x53\\x63\\x35\\xff\\x01'),  # option 53 claims 255 bytes
  l2('255.255.255.255', '0.0.0.0') / BOOTP(chaddr=hw, options=b'\\x63\\x82\\x53\\x63' + b'\\x34\\x01\\x03' + b'\\x35\\x01\\x01'),  # overload into empty file/sname
  l2('255.255.255.255', '0.0.0.0') / BOOTP(op=2, chaddr=hw) / DHCP(options=[('message-type', 'offer'), 'end']),  # a reply sent to the server
  l2('10.10.0.1', ip) / BOOTP(chaddr=hw, hlen=200) / DHCP(options=[('message-type', 'request'), 'end']),          # hlen out of range
  l2('255.255.255.255', '0.0.0.0') / Raw(bytes(range(256)) * 5),                                              # garbage, 1280 bytes
]
for f in frames:
  sendp(f, iface='eth0', verbose=False)
print(len(frames))
`;

describe.each(MODES)('DHCP in %s mode', (mode) => {
  let lab: TestLab;
  const leaseOf = async (vm: string) => (await lab.status()).vms.find((v) => v.name === vm)!.interfaces[0]!;
  const serverLog = (node: string, vni: number) => readFileSync(`${DHCP_DIR}/${node}-${vni}/dnsmasq.log`, 'utf8');
  const dnsmasqPid = (node: string, vni: number) => Number(readFileSync(`${DHCP_DIR}/${node}-${vni}/pid`, 'utf8').trim());

  beforeAll(async () => {
    lab = new TestLab(mode);
    await lab.up(labDocs(lab));
  });

  afterAll(async () => {
    await lab?.down();
  });

  it('gives every guest its allocated address, the gateway as router and the overlay MTU', async () => {
    const s = await lab.status();
    for (const vm of s.vms.filter((v) => v.name !== 'vm-c1')) {
      const nic = vm.interfaces[0]!;
      expect(nic.guest, vm.name).toMatchObject({ addressing: 'dhcp', ip: `${nic.ip}/24`, lease: { ip: nic.ip, prefixLen: 24, router: '10.10.0.1', mtu: 1450, server: '10.10.0.1', leaseTime: 3600 } });
    }
    expect((await lab.exec('vm-a2', ['ip', 'route', 'show', 'default'])).stdout).toMatch(/default via 10\.10\.0\.1 dev eth0/);
    expect((await lab.exec('vm-a2', ['cat', '/sys/class/net/eth0/mtu'])).stdout.trim()).toBe('1450');
    expect(await lab.ping('vm-a2', '10.10.0.1')).toBe(true);
  });

  it('answers two tenants with the same CIDR on one node each from their own network', async () => {
    // node 1 runs vm-a1 (tenant-a) and vm-b1 (tenant-b): both 10.10.0.2, from different servers.
    const a1 = await leaseOf('vm-a1');
    const b1 = await leaseOf('vm-b1');
    expect(a1.guest.lease).toMatchObject({ ip: '10.10.0.2', dns: '', search: '' });
    expect(b1.guest.lease).toMatchObject({ ip: '10.10.0.2', dns: '192.0.2.53', domain: 'red.example', search: 'red.example example.org' });
    expect(serverLog(lab.node(1), 100)).toMatch(/DHCPACK\(gw0\) 10\.10\.0\.2 02:00:0a:00:01:01/);
    expect(serverLog(lab.node(1), 200)).toMatch(/DHCPACK\(gw0\) 10\.10\.0\.2 02:00:0b:00:01:01/);
    expect(serverLog(lab.node(1), 100)).not.toMatch(/02:00:0b:00:01:01/);
  });

  it('offers nothing to an unknown MAC, nor to a MAC of another network', async () => {
    // A guest the cluster does not know, plugged into tenant-a's bridge on node 1 (bound to a VM NIC
    // no VMI has).
    const probe = lab.netns('probe');
    await addVm({ netns: probe, nodeNetns: lab.netns(lab.node(1)), port: `vxmp${lab.name}`, bridge: 'vxb100', mac: '02:00:0a:ff:ff:01', mtu: 1450, binding: PROBE_NIC });
    for (const mac of ['02:00:0a:ff:ff:01', '02:00:0b:00:01:02' /* vm-b2 of tenant-b */]) {
      await run(['ip', 'link', 'set', 'eth0', 'address', mac], { netns: probe });
      const r = await run(probeArgv(2), { netns: probe, allowFailure: true, timeoutMs: 20_000 });
      expect(r.exitCode, `${mac}: ${r.stderr}`).not.toBe(0);
      expect(r.stderr).toMatch(/no lease/);
    }
    // Both modes drop it before the server: the port is bound to no VM NIC of the node (anti-spoofing).
    expect(serverLog(lab.node(1), 100)).not.toMatch(/02:00:0a:ff:ff:01/);
    await run(['ip', 'netns', 'del', probe]);
  });

  it('offers nothing to a MAC the network does not know, asked for from a known VM\'s own port; the same request for its own MAC is offered', async () => {
    const UNKNOWN = '02:00:0a:ff:ff:09';
    const discover = (chaddr: string, xid: number) => ['/usr/bin/python3', '-c', [
      'from scapy.all import *',
      `sendp(Ether(src='02:00:0a:00:01:01', dst='ff:ff:ff:ff:ff:ff')/IP(src='0.0.0.0', dst='255.255.255.255')/UDP(sport=68, dport=67)/BOOTP(op=1, chaddr=bytes.fromhex('${chaddr.replace(/:/g, '')}'), xid=${xid})/DHCP(options=[('message-type', 'discover'), 'end']), iface='eth0', count=2, inter=0.2, verbose=False)`,
    ].join('\n')];
    const before = serverLog(lab.node(1), 100).length;
    expect((await lab.exec('vm-a1', discover(UNKNOWN, 0x7a01), { timeoutMs: 30_000 })).exitCode).toBe(0);
    // Positive control: vm-a1's own MAC in the same frame is offered its allocation.
    expect((await lab.exec('vm-a1', discover('02:00:0a:00:01:01', 0x7a02), { timeoutMs: 30_000 })).exitCode).toBe(0);
    await waitFor('the server to offer vm-a1 its address', async () => /DHCPOFFER\(gw0\) 10\.10\.0\.2 02:00:0a:00:01:01/.test(serverLog(lab.node(1), 100).slice(before)), 5000);
    const log = serverLog(lab.node(1), 100).slice(before);
    expect(log).not.toMatch(/DHCPOFFER\(gw0\) \S+ 02:00:0a:ff:ff:09/);
    // kernel mode lets a chaddr that is no endpoint of the network through, and dnsmasq ignores it (static
    // range only); bpf mode drops any chaddr but the sender's own at the port, so the server never sees it.
    if (mode === 'kernel') expect(log).toMatch(/DHCPDISCOVER\(gw0\) 02:00:0a:ff:ff:09 ignored/);
    else expect(log).not.toMatch(/02:00:0a:ff:ff:09/);
  });

  it('leaves a guest of a DHCP-off network unanswered, configured from the published allocation', async () => {
    const c1 = await leaseOf('vm-c1');
    expect(c1).toMatchObject({ network: 'tenant-c/green', ip: '10.30.0.2', guest: { addressing: 'static', ip: '10.30.0.2/24' } });
    expect(c1.guest.lease).toBeUndefined();
    const cluster = readFileSync(`/run/vxmesh/${lab.name}/state/cluster.yaml`, 'utf8');
    expect(cluster).toMatch(/kind: VxlanIPAllocation[\s\S]*?name: vm-c1\.nic1[\s\S]*?ip: 10\.30\.0\.2/); // published
    const r = await lab.exec('vm-c1', probeArgv(2), { timeoutMs: 20_000 });
    expect(r.exitCode).not.toBe(0);
    for (const n of [1, 2, 3]) expect((await run(['test', '-e', `${DHCP_DIR}/${lab.node(n)}-300`], { allowFailure: true })).exitCode).not.toBe(0);
    expect(await lab.ping('vm-c1', '10.30.0.1')).toBe(true);
  });

  it('ignores malformed DHCP packets and keeps answering', async () => {
    const pid = dnsmasqPid(lab.node(1), 100);
    const r = await lab.exec('vm-a1', ['/usr/bin/python3', '-c', MALFORMED, '02:00:0a:00:01:01', '10.10.0.2'], { timeoutMs: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('6');
    await sleep(300);
    expect(dnsmasqPid(lab.node(1), 100)).toBe(pid);
    expect((await run(['kill', '-0', String(pid)], { allowFailure: true })).exitCode).toBe(0);
    const again = await lab.exec('vm-a1', probeArgv(), { timeoutMs: 20_000 });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/lease of 10\.10\.0\.2 obtained from 10\.10\.0\.1/);
  });

  it('never puts DHCP on the underlay, neither bare nor inside VxLAN', async () => {
    const cap = lab.exec('ul', ['timeout', '6', 'tcpdump', '-l', '-n', '-i', 'vxmsw0', 'udp port 67 or udp port 68 or udp port 4789'], { timeoutMs: 15_000 });
    await sleep(800);
    // Full broadcast exchanges and renewals on every node, and an unknown MAC that nobody answers.
    const probe = lab.netns('probe2');
    await addVm({ netns: probe, nodeNetns: lab.netns(lab.node(2)), port: `vxmq${lab.name}`, bridge: 'vxb100', mac: '02:00:0a:ff:ff:02', mtu: 1450, binding: PROBE_NIC });
    const exchanges = await Promise.all([
      lab.exec('vm-a1', probeArgv(), { timeoutMs: 20_000 }),
      lab.exec('vm-b2', probeArgv(), { timeoutMs: 20_000 }),
      run(probeArgv(2), { netns: probe, allowFailure: true, timeoutMs: 20_000 }),
    ]);
    expect(exchanges.map((e) => e.exitCode)).toEqual([0, 0, 1]);
    expect(await lab.ping('vm-a1', '10.10.0.3')).toBe(true); // cross-node overlay traffic: the capture works
    const out = (await cap).stdout;
    await run(['ip', 'netns', 'del', probe]);
    expect(out).toMatch(/VXLAN[\s\S]*ICMP echo request/);
    expect(out).not.toMatch(/BOOTP|DHCP|\.6[78] > |\.6[78]: /);
  });

  it('answers the renewal of a migrated VM on the new node with the same address; the old node forgets it', async () => {
    const before = (await leaseOf('vm-a2')).guest.lease!;
    const r = await lab.cli(['lab', 'migrate', 'vm-a2', '--to', lab.node(3), '--lab', lab.name]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/renewal not answered/);
    const after = (await leaseOf('vm-a2')).guest;
    expect(after).toMatchObject({ ip: '10.10.0.3/24', lease: { event: 'renew', ip: '10.10.0.3', server: '10.10.0.1' } });
    expect(after.lease!.atMs).toBeGreaterThan(before.atMs);
    expect(serverLog(lab.node(3), 100)).toMatch(/DHCPACK\(gw0\) 10\.10\.0\.3 02:00:0a:00:01:02/);
    // node2 has no VM of VNI 100 left: its server for the network goes with the router (gateways only where
    // the network has a VM); a node that still had one would only drop the binding.
    await waitFor('the old node to drop the binding', async () => {
      const hosts = `${DHCP_DIR}/${lab.node(2)}-100/hosts`;
      return !existsSync(hosts) || !readFileSync(hosts, 'utf8').includes('02:00:0a:00:01:02');
    }, 5000);
    expect(existsSync(`${DHCP_DIR}/${lab.node(2)}-100`)).toBe(false);
    // A full broadcast exchange from its new place is answered too, with the same address.
    const again = await lab.exec('vm-a2', probeArgv(), { timeoutMs: 20_000 });
    expect(again.stderr).toMatch(/lease of 10\.10\.0\.3 obtained from 10\.10\.0\.1/);
    expect(await lab.whoAnswers('vm-a1', '10.10.0.3')).toBe('vm-a2');
  });

  it('keeps the servers across an agent restart', async () => {
    const pid = dnsmasqPid(lab.node(1), 100);
    const r = await lab.cli(['lab', 'restart', lab.node(1), '--lab', lab.name]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(dnsmasqPid(lab.node(1), 100)).toBe(pid);
    const again = await lab.exec('vm-a1', probeArgv(), { timeoutMs: 20_000 });
    expect(again.exitCode, again.stderr).toBe(0);
  });
});
