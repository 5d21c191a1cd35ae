/**
 * A VM speaks only as itself, only from its own port, in both dataplane modes (issue 18). Every attack
 * is mounted from a lab VM namespace against lab namespaces, next to a positive control showing the
 * same traffic pass when legitimate; receivers are capturing (or answering) before a "dropped" probe.
 * Lab: network A (VNI 100) on three nodes; a1 and a3 on n1, a2 on n2; further VMs are added per test.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { Lab, ping, sh, NODE_IPS, type VmDef } from '../helpers/kernel-lab.js';
import { Planes, nftDrops, scapySend, startCapture, toPort, type Mode } from '../helpers/vm-frames.js';
import { parsePing } from '../helpers/lab.js';
import { addHost, addVm, plugPort } from '../../src/lab/topology.js';
import { names } from '../../src/dataplane/names.js';
import type { NodeIntent } from '../../src/intent/types.js';
import type { PortBinding } from '../../src/dataplane/port-binding.js';

const A = { key: 'tenant-a/net', vni: 100, cidr: '10.10.0.0/24', gateway: '10.10.0.1', natOutgoing: true };
const mac = (n: number) => `52:54:00:00:00:${n.toString(16).padStart(2, '0')}`;
const vm = (n: number, node: string): VmDef => ({ name: `a${n}`, net: A.key, node, ip: `10.10.0.${10 + n}`, mac: mac(0x10 + n) });
const [A1, A2, A3] = [vm(1, 'n1'), vm(2, 'n2'), vm(3, 'n1')];

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('security tests need root (CAP_NET_ADMIN) to create namespaces and mount bpffs');
});

describe.each(['bpf', 'kernel'] as Mode[])('%s mode: a VM speaks only as itself, from its own port', (mode) => {
  let lab: Lab;
  let planes: Planes;
  const n1 = () => lab.nodeNs('n1');

  /** Plugs `v`'s NIC on its node with `binding` (undefined: none) without telling the lab's VM list. */
  const plug = (v: VmDef, binding: PortBinding | undefined, port = lab.port(v.name)) =>
    addVm({ netns: lab.vmNs(v.name), nodeNetns: lab.nodeNs(v.node), port, bridge: names.bridge(A.vni), mac: v.mac, address: `${v.ip}/24`, gateway: A.gateway, mtu: 1450, binding });

  beforeAll(async () => {
    lab = new Lab();
    await lab.build([A], [A1, A2, A3]);
    planes = new Planes(lab, mode);
    await planes.reconcile();
    expect(await ping(lab.vmNs('a1'), A3.ip)).toBe(true);
    expect(await ping(lab.vmNs('a1'), A2.ip)).toBe(true);
  }, 120_000);

  afterAll(async () => {
    await planes?.close();
    await lab?.destroy();
  });

  it('drops frames with another VM\'s source MAC or IP, local and remote, while the VM\'s own pass', async () => {
    for (const dst of [A3, A2]) {
      const cap = await startCapture(lab.vmNs(dst.name), 'udp');
      const to = `Ether(src="${A1.mac}", dst="${dst.mac}")`;
      await scapySend(lab.vmNs('a1'), [
        `${to}/IP(src="${A1.ip}", dst="${dst.ip}")/UDP(sport=4000, dport=5001)/"own"`,
        `Ether(src="${A2.mac}", dst="${dst.mac}")/IP(src="${A2.ip}", dst="${dst.ip}")/UDP(sport=4000, dport=5002)/"mac+ip"`,
        `Ether(src="${A3.mac}", dst="${dst.mac}")/IP(src="${A1.ip}", dst="${dst.ip}")/UDP(sport=4000, dport=5003)/"mac"`,
        `${to}/IP(src="10.10.0.99", dst="${dst.ip}")/UDP(sport=4000, dport=5004)/"ip"`,
        `${to}/IP(src="${A2.ip}", dst="${dst.ip}")/UDP(sport=4000, dport=5005)/"ip of a2"`,
      ]);
      const lines = await cap.stop();
      expect([5001, 5002, 5003, 5004, 5005].map((p) => toPort(lines, p)), `to ${dst.name}`).toEqual([1, 0, 0, 0, 0]);
    }
    // ARP: another VM's sender IP or MAC
    const cap = await startCapture(lab.vmNs('a3'), 'arp');
    await scapySend(lab.vmNs('a1'), [
      `Ether(src="${A1.mac}", dst="ff:ff:ff:ff:ff:ff")/ARP(op=1, hwsrc="${A1.mac}", psrc="${A1.ip}", pdst="10.10.0.77")`,
      `Ether(src="${A1.mac}", dst="ff:ff:ff:ff:ff:ff")/ARP(op=1, hwsrc="${A1.mac}", psrc="${A2.ip}", pdst="10.10.0.78")`,
      `Ether(src="${A1.mac}", dst="ff:ff:ff:ff:ff:ff")/ARP(op=1, hwsrc="${A3.mac}", psrc="${A1.ip}", pdst="10.10.0.79")`,
    ]);
    const arp = await cap.stop();
    expect(['10.10.0.77', '10.10.0.78', '10.10.0.79'].map((ip) => arp.filter((l) => l.includes(`who-has ${ip}`)).length)).toEqual([1, 0, 0]);
  });

  it('carries nothing from a VM port without a binding or bound to a VM that runs elsewhere; a correctly bound port carries', async () => {
    const a4 = vm(4, 'n1');
    const a5 = vm(5, 'n2'); // runs on n2 (never plugged there): a port on n1 bound to it is not its port
    lab.vms.push(a4, a5);
    await plug(a4, undefined); // no binding
    await addVm({ netns: lab.vmNs('x5'), nodeNetns: n1(), port: 'vxmpx5', bridge: names.bridge(A.vni), mac: a5.mac, address: `${a5.ip}/24`, gateway: A.gateway, mtu: 1450, binding: lab.binding('a5') });
    await planes.reconcile();
    expect(await ping(lab.vmNs('a4'), A3.ip, 2)).toBe(false);
    expect(await ping(lab.vmNs('x5'), A3.ip, 2)).toBe(false);
    expect(await ping(lab.vmNs('x5'), A.gateway, 1)).toBe(false);
    if (mode === 'bpf') expect(planes.stat('n1', 'dropped-unbound')).toBeGreaterThan(0);
    else expect(await nftDrops(n1(), 'unbound')).toBeGreaterThan(0);
    // positive control: the same port, once bound to a4's NIC, carries a4's traffic
    await sh(n1(), ['ip', 'link', 'set', lab.port('a4'), 'alias', `vxmesh/default/a4/default`]);
    await planes.reconcile();
    expect(await ping(lab.vmNs('a4'), A3.ip)).toBe(true);
    expect(await ping(lab.vmNs('a4'), A2.ip)).toBe(true);
    expect(await ping(lab.vmNs('x5'), A3.ip, 1)).toBe(false);
  });

  it('lets no other port take over the endpoint of a new VM whose port is not plugged yet; its own bound port does', async () => {
    const a6 = vm(6, 'n1');
    lab.vms.push(a6); // the intent says a6 runs on n1; its virt-launcher has not plugged the port yet
    await planes.reconcile();
    const cap = await startCapture(lab.vmNs('a3'), 'udp');
    await scapySend(lab.vmNs('a1'), [`Ether(src="${a6.mac}", dst="${A3.mac}")/IP(src="${a6.ip}", dst="${A3.ip}")/UDP(sport=4000, dport=5006)/"hijack"`]);
    // a port with no binding tries the same
    await addVm({ netns: lab.vmNs('x6'), nodeNetns: n1(), port: 'vxmpx6', bridge: names.bridge(A.vni), mac: a6.mac, address: `${a6.ip}/24`, gateway: A.gateway, mtu: 1450 });
    await planes.reconcile();
    await scapySend(lab.vmNs('x6'), [`Ether(src="${a6.mac}", dst="${A3.mac}")/IP(src="${a6.ip}", dst="${A3.ip}")/UDP(sport=4000, dport=5007)/"hijack"`]);
    expect(await ping(lab.vmNs('x6'), A3.ip, 1)).toBe(false);
    await scapySend(lab.vmNs('a1'), [`Ether(src="${A1.mac}", dst="${A3.mac}")/IP(src="${A1.ip}", dst="${A3.ip}")/UDP(sport=4000, dport=5008)/"control"`]);
    const lines = await cap.stop();
    expect([5006, 5007, 5008].map((p) => toPort(lines, p))).toEqual([0, 0, 1]);
    // positive control: the real VM's port, bound to its NIC when plugged
    await plug(a6, lab.binding('a6'));
    await planes.reconcile();
    expect(await ping(lab.vmNs('a6'), A3.ip)).toBe(true);
    expect(await ping(lab.vmNs('a6'), A2.ip)).toBe(true);
  });

  it('carries nothing from a port plugged (and bound) before the agent programmed it, then carries it once programmed', async () => {
    const a7 = vm(7, 'n1');
    lab.vms.push(a7);
    await planes.reconcile(); // the intent knows a7, its port does not exist yet
    await plug(a7, lab.binding('a7'));
    // no pass since: the port has no program (bpf) and is not in the gate's sets
    expect(await ping(lab.vmNs('a7'), A3.ip, 2)).toBe(false);
    expect(await ping(lab.vmNs('a7'), A.gateway, 1)).toBe(false);
    expect(await ping(lab.vmNs('a7'), A2.ip, 1)).toBe(false);
    // nor can it poison the bridge with a3's MAC: a1 still reaches a3 through the bridge (the gateway's replies)
    await scapySend(lab.vmNs('a7'), [`Ether(src="${A3.mac}", dst="ff:ff:ff:ff:ff:ff")/ARP(op=1, hwsrc="${A3.mac}", psrc="${A3.ip}", pdst="${A.gateway}")`]);
    const fdb = await sh(n1(), ['bridge', 'fdb', 'show', 'dev', lab.port('a7')]);
    expect(fdb.stdout).not.toContain(A3.mac);
    expect(await nftDrops(n1(), 'from-not-admitted')).toBeGreaterThan(0);
    await planes.reconcile();
    expect(await ping(lab.vmNs('a7'), A3.ip)).toBe(true);
    expect(await ping(lab.vmNs('a7'), A.gateway)).toBe(true);
  });

  it('drops VLAN-tagged frames from a VM (the kernel strips the tag before TC) while untagged IPv4 passes', async () => {
    // This kernel has no 802.1Q devices (CONFIG_VLAN_8021Q unset): the tags are written by scapy, and the
    // port's receive path moves the outer one into skb->vlan_tci before TC, as it does for any VLAN device.
    const before = mode === 'bpf' ? planes.stat('n1', 'dropped-malformed') : await nftDrops(n1(), 'vlan');
    const cap = await startCapture(lab.vmNs('a3'), 'udp or vlan');
    const to = `Ether(src="${A1.mac}", dst="${A3.mac}")`;
    const ip = `IP(src="${A1.ip}", dst="${A3.ip}")`;
    await scapySend(lab.vmNs('a1'), [
      `${to}/Dot1Q(vlan=7)/${ip}/UDP(sport=4000, dport=5012)/"vlan"`,
      `Ether(src="${A1.mac}", dst="${A3.mac}", type=0x88a8)/Dot1Q(vlan=8)/Dot1Q(vlan=7)/${ip}/UDP(sport=4000, dport=5013)/"qinq"`,
      `Ether(src="${A1.mac}", dst="ff:ff:ff:ff:ff:ff")/Dot1Q(vlan=7)/ARP(op=1, hwsrc="${A1.mac}", psrc="${A1.ip}", pdst="${A3.ip}")`,
      `${to}/${ip}/UDP(sport=4000, dport=5014)/"untagged"`,
    ]);
    const lines = await cap.stop();
    expect([5012, 5013, 5014].map((p) => lines.filter((l) => l.includes(`.${p}:`)).length)).toEqual([0, 0, 1]);
    expect(lines.filter((l) => /vlan|802\.1Q|ARP/i.test(l))).toEqual([]);
    const after = mode === 'bpf' ? planes.stat('n1', 'dropped-malformed') : await nftDrops(n1(), 'vlan');
    expect(after).toBe(before + 3);
  });

  it('drops IPv6 from a VM (link-local echo, router advertisement) while IPv4 passes', async () => {
    const ll = JSON.parse((await sh(lab.vmNs('a3'), ['ip', '-j', '-6', 'addr', 'show', 'dev', 'eth0'])).stdout)[0]?.addr_info?.[0]?.local as string | undefined;
    expect(ll, 'a3 has a link-local IPv6 address').toMatch(/^fe80:/);
    const before = mode === 'bpf' ? planes.stat('n1', 'dropped-ipv6') : await nftDrops(n1(), 'ipv6');
    const cap = await startCapture(lab.vmNs('a3'), 'ip6');
    const r = await sh(lab.vmNs('a1'), ['ping', '-6', '-c', '2', '-W', '1', `${ll}%eth0`]);
    expect(r.exitCode).not.toBe(0);
    await scapySend(lab.vmNs('a1'), [`Ether(src="${A1.mac}", dst="33:33:00:00:00:01")/IPv6(src="fe80::1", dst="ff02::1")/ICMPv6ND_RA()/ICMPv6NDOptPrefixInfo(prefix="2001:db8::", prefixlen=64)`]);
    expect((await cap.stop()).filter((l) => !l.includes(A3.mac + ' >'))).toEqual([]); // (a3's own IPv6 is captured outgoing)
    expect(await ping(lab.vmNs('a1'), A3.ip)).toBe(true);
    const after = mode === 'bpf' ? planes.stat('n1', 'dropped-ipv6') : await nftDrops(n1(), 'ipv6');
    expect(after).toBeGreaterThanOrEqual(before + 2);
  });

  it('the node itself speaks no IPv6 into the network: no device vxmesh made (bridge, gateway legs, tunnel, VM port) has an IPv6 address', async () => {
    const v6 = async (ns: string) => (JSON.parse((await sh(ns, ['ip', '-j', '-6', 'addr', 'show'])).stdout) as Array<{ ifname: string; addr_info: unknown[] }>)
      .filter((l) => l.ifname !== 'lo' && l.addr_info.length > 0).map((l) => l.ifname);
    const router = names.routerNetns(lab.nodeName('n1'), A.vni);
    // positive control: the namespaces do run IPv6 (the node's uplink, like the VM's NIC, has its link-local)
    expect(await v6(n1())).toContain('vxmu0');
    expect((await v6(n1())).filter((d) => d !== 'vxmu0')).toEqual([]);
    expect(await v6(router)).toEqual([]);
    expect(await v6(lab.vmNs('a3'))).toEqual(['eth0']);
  });

  it('drops TCP and UDP from 0.0.0.0 while a DHCP discover (UDP 68 -> 67) from 0.0.0.0 passes', async () => {
    const cap = await startCapture(lab.vmNs('a3'), 'udp or tcp');
    await scapySend(lab.vmNs('a1'), [
      `Ether(src="${A1.mac}", dst="${A3.mac}")/IP(src="0.0.0.0", dst="${A3.ip}")/UDP(sport=4000, dport=5009)/"udp"`,
      `Ether(src="${A1.mac}", dst="${A3.mac}")/IP(src="0.0.0.0", dst="${A3.ip}")/TCP(sport=4000, dport=5010, flags="S")`,
      `Ether(src="${A1.mac}", dst="ff:ff:ff:ff:ff:ff")/IP(src="0.0.0.0", dst="255.255.255.255")/UDP(sport=68, dport=5011)/"udp"`,
      `Ether(src="${A1.mac}", dst="ff:ff:ff:ff:ff:ff")/IP(src="0.0.0.0", dst="255.255.255.255")/UDP(sport=68, dport=67)/BOOTP(chaddr=bytes.fromhex("${A1.mac.replace(/:/g, '')}"))/DHCP(options=[("message-type", "discover"), "end"])`,
    ]);
    const lines = await cap.stop();
    expect([5009, 5011].map((p) => toPort(lines, p))).toEqual([0, 0]);
    expect(lines.filter((l) => l.includes('.5010:')).length).toBe(0);
    expect(lines.filter((l) => /0\.0\.0\.0\.68 > 255\.255\.255\.255\.67/.test(l)).length).toBe(1);
  });
});

describe('bpf mode: migration admits the arriving guest only on the target\'s bound port', () => {
  let lab: Lab;
  let planes: Planes;
  const GUEST = A2;
  const TARGET_PORT = 'vxmpa2t';

  afterAll(async () => {
    await planes?.close();
    await lab?.destroy();
  });

  /** The intent while GUEST migrates n2 -> n1 (arriving on n1). */
  const migrating = (node: string): NodeIntent => lab.migrating(node, GUEST.name, 'n1');

  it('refuses a fake promotion from another port of the target node, and the real target port migrates with at most 1 lost ping at 10 ms', async () => {
    lab = new Lab();
    await lab.build([A], [A1, A2, A3, vm(8, 'n3')]);
    planes = new Planes(lab, 'bpf');
    await planes.reconcile();
    // the target's port: the guest's second NIC, bound to the guest's NIC, down until the switchover
    await sh(lab.vmNs('a2'), ['ip', 'link', 'add', 'eth1', 'address', GUEST.mac, 'mtu', '1450', 'type', 'veth', 'peer', 'name', TARGET_PORT, 'mtu', '1450', 'netns', lab.nodeNs('n1')]);
    await plugPort(lab.nodeNs('n1'), TARGET_PORT, names.bridge(A.vni), lab.binding('a2'));
    await sh(lab.vmNs('a2'), ['ip', 'addr', 'add', `${GUEST.ip}/24`, 'dev', 'eth1']);
    // an attacker port on n1 without a binding
    await addVm({ netns: lab.vmNs('x2'), nodeNetns: lab.nodeNs('n1'), port: 'vxmpx2', bridge: names.bridge(A.vni), mac: '52:54:00:00:00:99', mtu: 1450 });
    await planes.reconcile(migrating);
    const entry = async () => {
      const d = (await (await planes.plane('n1')).inspect()).data as { endpoints: Array<{ mac: string; remoteVtep?: string; localPort?: string; migration?: string }> };
      const e = d.endpoints.find((x) => x.mac === GUEST.mac)!;
      return `${e.remoteVtep ? `remote ${e.remoteVtep}` : `local ${e.localPort}`} ${e.migration ?? ''}`.trim();
    };
    expect(await entry()).toBe(`remote ${NODE_IPS.n2} arriving`);
    expect(await ping(lab.vmNs('a1'), GUEST.ip)).toBe(true); // still served by the source

    const announce = `Ether(src="${GUEST.mac}", dst="ff:ff:ff:ff:ff:ff")/ARP(op=1, hwsrc="${GUEST.mac}", psrc="${GUEST.ip}", pdst="${GUEST.ip}")`;
    const spoof = planes.stat('n1', 'dropped-spoof');
    const unbound = planes.stat('n1', 'dropped-unbound');
    await scapySend(lab.vmNs('a3'), [announce]); // a VM of the target node
    await scapySend(lab.vmNs('x2'), [announce]); // a port bound to nothing
    expect(planes.stat('n1', 'dropped-spoof')).toBe(spoof + 1);
    expect(planes.stat('n1', 'dropped-unbound')).toBeGreaterThan(unbound); // (and x2's own IPv6 chatter)
    expect(await entry()).toBe(`remote ${NODE_IPS.n2} arriving`);
    expect(await ping(lab.vmNs('a1'), GUEST.ip)).toBe(true); // nothing moved

    // the real switchover, under 10 ms pings from a VM of the target node (a3) and of a third node (a8)
    const p1 = sh(lab.vmNs('a8'), ['ping', '-i', '0.01', '-c', '300', '-q', GUEST.ip], 30_000);
    const p3 = sh(lab.vmNs('a3'), ['ping', '-i', '0.01', '-c', '300', '-q', GUEST.ip], 30_000);
    await new Promise((res) => setTimeout(res, 1000));
    const sw = await sh(lab.vmNs('a2'), ['sh', '-c', `ip link set eth0 down && ip link set eth1 up && arping -U -c 1 -I eth1 ${GUEST.ip}`]);
    expect(sw.exitCode, sw.stderr).toBe(0);
    const lost = [parsePing((await p1).stdout).lost, parsePing((await p3).stdout).lost];
    if (process.env.VXMESH_TEST_PRINT) console.log(`switchover at 10 ms: lost ${lost.join(' and ')} of 300 pings`);
    expect(Math.max(...lost)).toBeLessThanOrEqual(1);
    expect(await entry()).toBe(`local ${TARGET_PORT} arriving`);
  });
});

describe('kernel mode: migration admits the arriving guest on the target\'s bound port at once, and nowhere else', () => {
  it('drops the guest\'s identity from another port of the target node while the target port carries it from the switchover on', async () => {
    const lab = new Lab();
    const planes = new Planes(lab, 'kernel');
    const GUEST = A2;
    try {
      await lab.build([A], [A1, A2, A3]);
      await planes.reconcile();
      await sh(lab.vmNs('a2'), ['ip', 'link', 'add', 'eth1', 'address', GUEST.mac, 'mtu', '1450', 'type', 'veth', 'peer', 'name', 'vxmpa2t', 'mtu', '1450', 'netns', lab.nodeNs('n1')]);
      await plugPort(lab.nodeNs('n1'), 'vxmpa2t', names.bridge(A.vni), lab.binding('a2'));
      await sh(lab.vmNs('a2'), ['ip', 'addr', 'add', `${GUEST.ip}/24`, 'dev', 'eth1']);
      await planes.reconcile((node) => lab.migrating(node, GUEST.name, 'n1'));
      const cap = await startCapture(lab.vmNs('a1'), 'udp');
      await scapySend(lab.vmNs('a3'), [`Ether(src="${GUEST.mac}", dst="${A1.mac}")/IP(src="${GUEST.ip}", dst="${A1.ip}")/UDP(sport=4000, dport=5020)/"fake"`]);
      await sh(lab.vmNs('a2'), ['ip', 'link', 'set', 'eth0', 'down']);
      await sh(lab.vmNs('a2'), ['ip', 'link', 'set', 'eth1', 'up']);
      await scapySend(lab.vmNs('a2'), [`Ether(src="${GUEST.mac}", dst="${A1.mac}")/IP(src="${GUEST.ip}", dst="${A1.ip}")/UDP(sport=4000, dport=5021)/"real"`], 'eth1');
      const lines = await cap.stop();
      expect([5020, 5021].map((p) => toPort(lines, p))).toEqual([0, 1]);
      expect(await nftDrops(lab.nodeNs('n1'), 'spoof-mac')).toBeGreaterThan(0);
      await sh(lab.vmNs('a2'), ['arping', '-U', '-c', '1', '-I', 'eth1', GUEST.ip]);
      expect(await ping(lab.vmNs('a3'), GUEST.ip)).toBe(true);
    } finally {
      await planes.close();
      await lab.destroy();
    }
  });
});

describe('bpf mode: frames from the underlay', () => {
  it('counts VxLAN for VNIs that do not exist here under VNI 0, never under the random VNI', async () => {
    const lab = new Lab();
    const planes = new Planes(lab, 'bpf');
    try {
      await lab.build([A], [A1]);
      await planes.reconcile();
      const host = await addHost(lab.prefix, 'rg', '198.18.0.99/24');
      const n1Mac = JSON.parse((await sh(lab.nodeNs('n1'), ['ip', '-j', 'link', 'show', 'vxmu0'])).stdout)[0].address as string;
      const before = planes.stat('n1', 'dropped-unknown-vtep', 0);
      const frames = [4242, 777777, 100].map((vni) => `Ether(dst="${n1Mac}")/IP(src="198.18.0.99", dst="${NODE_IPS.n1}")/UDP(sport=40000, dport=4789)/VXLAN(vni=${vni}, flags=0x08)/Ether(src="${mac(0x55)}", dst="${A1.mac}")/IP(src="10.10.0.55", dst="${A1.ip}")/ICMP()`);
      await scapySend(host, frames, 'vxmu0');
      expect(planes.stat('n1', 'dropped-unknown-vtep', 0)).toBe(before + 2); // 4242, 777777
      expect(planes.stat('n1', 'dropped-unknown-vtep', 4242) + planes.stat('n1', 'dropped-unknown-vtep', 777777)).toBe(0);
      expect(planes.stat('n1', 'dropped-unknown-vtep', 100)).toBe(1); // a known VNI from a non-member: under its VNI
    } finally {
      await planes.close();
      await lab.destroy();
    }
  });
});
