import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import type { NodeIntent } from '../../src/intent/types.js';
import { names } from '../../src/dataplane/names.js';
import { desiredMaps, diffMaps } from '../../src/dataplane/bpf/desired.js';
import { ensurePrograms, openPinnedProgram } from '../../src/dataplane/bpf/loader.js';
import { PinnedMaps, statPackets } from '../../src/dataplane/bpf/maps.js';
import * as bpf from '../../src/dataplane/bpf/libbpf.js';
import { arp, arpRequest, dhcp, eth, ipv4, ipv6, parseIp, parseMac, udp, vlan } from '../helpers/bpf-frames.js';
import { mountBpffs, unmountBpffs } from '../helpers/bpffs.js';

const TC_ACT_OK = 0;
const TC_ACT_SHOT = 2;
const TC_ACT_REDIRECT = 7;
const VNI = 100;
const A = { mac: '02:00:00:00:00:0a', ip: '10.0.0.10' }; // local VM on port "lo" (ifindex 1, the test-run device)
const B = { mac: '02:00:00:00:00:0b', ip: '10.0.0.11' }; // remote VM behind 198.18.0.2
const GW = { ip: '10.0.0.1', mac: names && '02:76:6d:00:00:64' };
const BCAST = 'ff:ff:ff:ff:ff:ff';
/** The test-run device "lo" as A's VM port, bound to A's NIC (vm-ports.ts). */
const PORT_LO = { name: 'lo', ifindex: 1, vni: VNI, binding: { vm: 'default/a', iface: 'nic' } };

const intent: NodeIntent = {
  node: 'n1',
  clusterNetworks: [{
    name: 'overlay', uplink: 'vxmu0', uplinkMtu: 1500, localVtep: '198.18.0.1', port: 4789, peers: ['198.18.0.2'],
    networks: [{
      key: 'default/blue', vni: VNI, cidr: '10.0.0.0/24', prefixLen: 24, gateway: GW.ip, gatewayMac: GW.mac,
      natOutgoing: false, mtu: 1450,
      endpoints: [
        { vm: 'default/a', iface: 'nic', mac: A.mac, ip: A.ip, node: 'n1', vtep: '198.18.0.1', local: true },
        { vm: 'default/b', iface: 'nic', mac: B.mac, ip: B.ip, node: 'n2', vtep: '198.18.0.2', local: false },
      ],
    }],
  }],
};

let bpffs: string | undefined;
let maps: PinnedMaps;
let vmFd = -1;
let tunFd = -1;

beforeAll(async () => {
  bpffs = await mountBpffs();
  const pinDir = path.join(bpffs, 'vxmesh');
  const loaded = ensurePrograms(pinDir);
  maps = PinnedMaps.open(pinDir);
  // vxe0 = 999: redirects in a test run only return TC_ACT_REDIRECT; clones to it fail harmlessly.
  const env = { ifindex: { lo: 1, vxe0: 999, vxb100: 998 }, vmPorts: { [VNI]: [PORT_LO] }, objectHash: loaded.hash };
  const { state } = desiredMaps(intent, env);
  maps.apply(diffMaps(maps.readState(), state));
  vmFd = openPinnedProgram(pinDir, 'fromVm');
  tunFd = openPinnedProgram(pinDir, 'fromTunnel');
});

afterAll(async () => {
  bpf.closeFd(vmFd);
  bpf.closeFd(tunFd);
  maps?.close();
  await unmountBpffs(bpffs);
});

const count = (verdict: Parameters<typeof statPackets>[2], vni = VNI) => statPackets(maps.readStats(), vni, verdict);

describe('vxm_from_vm (BPF_PROG_TEST_RUN on port ifindex 1)', () => {
  it('answers an ARP request for a remote VM in place with that VM\'s MAC', () => {
    const before = count('arp-answered');
    const r = bpf.testRun(vmFd, arpRequest(A.mac, A.ip, B.ip));
    expect(r.retval).toBe(TC_ACT_REDIRECT);
    expect(parseMac(r.data, 0)).toBe(A.mac); // eth dst = requester
    expect(parseMac(r.data, 6)).toBe(B.mac); // eth src = answer
    expect(r.data.readUInt16BE(12)).toBe(0x0806);
    expect(r.data.readUInt16BE(20)).toBe(2); // reply
    expect(parseMac(r.data, 22)).toBe(B.mac);
    expect(parseIp(r.data, 28)).toBe(B.ip);
    expect(parseMac(r.data, 32)).toBe(A.mac);
    expect(parseIp(r.data, 38)).toBe(A.ip);
    expect(count('arp-answered')).toBe(before + 1);
  });

  it('answers an ARP request for the gateway with the gateway MAC', () => {
    const r = bpf.testRun(vmFd, arpRequest(A.mac, A.ip, GW.ip));
    expect(r.retval).toBe(TC_ACT_REDIRECT);
    expect(parseMac(r.data, 22)).toBe(GW.mac);
    expect(parseIp(r.data, 28)).toBe(GW.ip);
  });

  it('answers ARP probes from 0.0.0.0 (address conflict detection)', () => {
    const r = bpf.testRun(vmFd, arpRequest(A.mac, '0.0.0.0', B.ip));
    expect(r.retval).toBe(TC_ACT_REDIRECT);
    expect(parseMac(r.data, 22)).toBe(B.mac);
  });

  it('encapsulates unicast to a remote VM and counts it', () => {
    const before = count('forwarded-tunnel');
    const r = bpf.testRun(vmFd, eth(B.mac, A.mac, 0x0800, ipv4(A.ip, B.ip)));
    expect(r.retval).toBe(TC_ACT_REDIRECT);
    expect(count('forwarded-tunnel')).toBe(before + 1);
  });

  it('hands frames for the gateway MAC to the kernel bridge', () => {
    const r = bpf.testRun(vmFd, eth(GW.mac, A.mac, 0x0800, ipv4(A.ip, '8.8.8.8')));
    expect(r.retval).toBe(TC_ACT_OK);
  });

  it('accepts 0.0.0.0 as the source of a DHCP client message only, not of other UDP or TCP', () => {
    expect(bpf.testRun(vmFd, eth(BCAST, A.mac, 0x0800, ipv4('0.0.0.0', '255.255.255.255', dhcp(68, 67, 1, A.mac)))).retval).toBe(TC_ACT_OK);
    const before = count('dropped-spoof');
    expect(bpf.testRun(vmFd, eth(B.mac, A.mac, 0x0800, ipv4('0.0.0.0', B.ip, udp(68, 53)))).retval).toBe(TC_ACT_SHOT);
    expect(bpf.testRun(vmFd, eth(BCAST, A.mac, 0x0800, ipv4('0.0.0.0', '255.255.255.255', udp(67, 68)))).retval).toBe(TC_ACT_SHOT);
    const tcp = ipv4('0.0.0.0', B.ip, Buffer.alloc(20));
    tcp[9] = 6;
    expect(bpf.testRun(vmFd, eth(B.mac, A.mac, 0x0800, tcp)).retval).toBe(TC_ACT_SHOT);
    expect(count('dropped-spoof')).toBe(before + 3);
  });

  it('accepts 0.0.0.0 as an ARP sender in a probe (request) only, not in a reply', () => {
    const before = count('dropped-spoof');
    expect(bpf.testRun(vmFd, eth(BCAST, A.mac, 0x0806, arp(2, A.mac, '0.0.0.0', B.mac, B.ip))).retval).toBe(TC_ACT_SHOT);
    expect(count('dropped-spoof')).toBe(before + 1);
  });

  it('drops IPv6 from a VM port and counts it, while IPv4 from the same VM passes', () => {
    const before = count('dropped-ipv6');
    expect(bpf.testRun(vmFd, eth('33:33:00:00:00:02', A.mac, 0x86dd, ipv6())).retval).toBe(TC_ACT_SHOT);
    expect(bpf.testRun(vmFd, eth(B.mac, A.mac, 0x86dd, ipv6())).retval).toBe(TC_ACT_SHOT);
    expect(count('dropped-ipv6')).toBe(before + 2);
    expect(bpf.testRun(vmFd, eth(B.mac, A.mac, 0x0800, ipv4(A.ip, B.ip))).retval).toBe(TC_ACT_REDIRECT);
  });

  it('keeps a DHCP broadcast (UDP 68 -> 67) on the node: to the local bridge, never replicated to peers', () => {
    const before = { flooded: count('flooded'), kernel: count('passed-to-kernel') };
    const r = bpf.testRun(vmFd, eth(BCAST, A.mac, 0x0800, ipv4('0.0.0.0', '255.255.255.255', dhcp(68, 67, 1, A.mac))));
    expect(r.retval).toBe(TC_ACT_OK);
    expect(count('passed-to-kernel')).toBe(before.kernel + 1);
    expect(count('flooded')).toBe(before.flooded);
  });

  it('replicates a VNI\'s broadcasts within its budget only: over it counted as dropped-broadcast-rate, still delivered on the node', async () => {
    const frame = eth(BCAST, A.mac, 0x0800, ipv4(A.ip, '10.0.0.255'));
    await new Promise((r) => setTimeout(r, 250)); // a full budget (BURST frames)
    const before = count('dropped-broadcast-rate');
    for (let i = 0; i < 50; i++) expect(bpf.testRun(vmFd, frame).retval).toBe(TC_ACT_OK);
    expect(count('dropped-broadcast-rate')).toBe(before); // a normal burst is untouched
    for (let i = 0; i < 600; i++) expect(bpf.testRun(vmFd, frame).retval).toBe(TC_ACT_OK);
    const dropped = count('dropped-broadcast-rate') - before;
    // 650 frames in well under a second against 200 + 1000/s: most of the storm is not replicated
    expect(dropped).toBeGreaterThan(200);
    expect(dropped).toBeLessThan(650 - 200 + 1);
    await new Promise((r) => setTimeout(r, 250));
    const after = count('dropped-broadcast-rate');
    for (let i = 0; i < 50; i++) bpf.testRun(vmFd, frame);
    expect(count('dropped-broadcast-rate')).toBe(after); // the budget refills
  });

  describe('closes policy bypasses from a VM port whether or not policies exist (policy.h, dhcp.h)', () => {
    const verdict = (frame: Buffer) => {
      const before = count('dropped-policy');
      const r = bpf.testRun(vmFd, frame);
      expect(count('dropped-policy')).toBe(before + (r.retval === TC_ACT_SHOT ? 1 : 0));
      return r.retval === TC_ACT_SHOT ? 'drop' : 'pass';
    };
    it('drops unicast IPv4 inside an L2 broadcast, passes broadcast, directed broadcast and multicast', () => {
      expect(verdict(eth(BCAST, A.mac, 0x0800, ipv4(A.ip, B.ip)))).toBe('drop');
      expect(verdict(eth('01:00:5e:00:00:0b', A.mac, 0x0800, ipv4(A.ip, B.ip)))).toBe('drop');
      expect(verdict(eth(BCAST, A.mac, 0x0800, ipv4(A.ip, '255.255.255.255')))).toBe('pass');
      expect(verdict(eth(BCAST, A.mac, 0x0800, ipv4(A.ip, '10.0.0.255')))).toBe('pass');
      expect(verdict(eth('01:00:5e:00:00:fb', A.mac, 0x0800, ipv4(A.ip, '224.0.0.251')))).toBe('pass');
    });
    it('lets a VM be a DHCP client (broadcast or unicast to the gateway) with its own chaddr only', () => {
      expect(verdict(eth(BCAST, A.mac, 0x0800, ipv4(A.ip, '255.255.255.255', dhcp(68, 67, 1, A.mac))))).toBe('pass');
      expect(verdict(eth(GW.mac, A.mac, 0x0800, ipv4(A.ip, GW.ip, dhcp(68, 67, 1, A.mac))))).toBe('pass');
      // DHCPDECLINE / DHCPRELEASE naming another VM's MAC
      expect(verdict(eth(BCAST, A.mac, 0x0800, ipv4(A.ip, '255.255.255.255', dhcp(68, 67, 1, B.mac))))).toBe('drop');
      expect(verdict(eth(GW.mac, A.mac, 0x0800, ipv4(A.ip, GW.ip, dhcp(68, 67, 1, B.mac))))).toBe('drop');
      expect(verdict(eth(BCAST, A.mac, 0x0800, ipv4(A.ip, '10.0.0.255', dhcp(68, 67, 1, B.mac))))).toBe('drop');
      // to the server from another port, or a reply
      expect(verdict(eth(GW.mac, A.mac, 0x0800, ipv4(A.ip, GW.ip, dhcp(5555, 67, 1, A.mac))))).toBe('drop');
      expect(verdict(eth(BCAST, A.mac, 0x0800, ipv4(A.ip, '255.255.255.255', dhcp(68, 67, 2, A.mac))))).toBe('drop');
    });
    it('drops DHCP server messages (UDP from port 67) from a VM: a rogue DHCP server', () => {
      expect(verdict(eth(BCAST, A.mac, 0x0800, ipv4(A.ip, '255.255.255.255', dhcp(67, 68, 2, B.mac))))).toBe('drop');
      expect(verdict(eth(B.mac, A.mac, 0x0800, ipv4(A.ip, B.ip, dhcp(67, 68, 2, B.mac))))).toBe('drop');
      expect(verdict(eth(B.mac, A.mac, 0x0800, ipv4(A.ip, B.ip, dhcp(5555, 68, 2, B.mac))))).toBe('pass'); // not DHCP: policies decide
      expect(verdict(eth(B.mac, A.mac, 0x0800, ipv4(A.ip, B.ip, dhcp(68, 67, 1, B.mac))))).toBe('pass'); // UDP 67 of a VM, not the server's
    });
  });

  it('drops and counts a frame with a spoofed source MAC', () => {
    const before = count('dropped-spoof');
    const r = bpf.testRun(vmFd, eth(B.mac, '02:66:66:66:66:66', 0x0800, ipv4(A.ip, B.ip)));
    expect(r.retval).toBe(TC_ACT_SHOT);
    expect(count('dropped-spoof')).toBe(before + 1);
  });

  it('drops a frame whose source MAC belongs to the remote VM', () => {
    expect(bpf.testRun(vmFd, eth(A.mac, B.mac, 0x0800, ipv4(B.ip, A.ip))).retval).toBe(TC_ACT_SHOT);
  });

  it('drops and counts a spoofed IPv4 source address', () => {
    const before = count('dropped-spoof');
    const r = bpf.testRun(vmFd, eth(B.mac, A.mac, 0x0800, ipv4('10.0.0.99', B.ip)));
    expect(r.retval).toBe(TC_ACT_SHOT);
    expect(count('dropped-spoof')).toBe(before + 1);
  });

  it('drops ARP claiming another VM\'s address (sender IP or sender MAC spoofed)', () => {
    expect(bpf.testRun(vmFd, arpRequest(A.mac, B.ip, GW.ip)).retval).toBe(TC_ACT_SHOT);
    const forged = eth(BCAST, A.mac, 0x0806, arp(1, B.mac, A.ip, '00:00:00:00:00:00', GW.ip));
    expect(bpf.testRun(vmFd, forged).retval).toBe(TC_ACT_SHOT);
  });

  describe('never forwards malformed frames to the tunnel', () => {
    const cases: Array<[string, Buffer]> = [
      // (BPF_PROG_TEST_RUN itself refuses IPv4 frames shorter than an IP header, so "cut short" is
      // exercised through the IHL cases: the header the program must read runs past the frame.)
      ['an IPv4 header whose options run past the frame', eth(B.mac, A.mac, 0x0800, ipv4(A.ip, B.ip, Buffer.alloc(0), 6))],
      ['an IPv4 header claiming options beyond the frame', eth(B.mac, A.mac, 0x0800, ipv4(A.ip, B.ip, Buffer.alloc(0), 15))],
      ['an IPv4 header with IHL < 5', eth(B.mac, A.mac, 0x0800, ipv4(A.ip, B.ip, Buffer.alloc(8), 3))],
      ['a truncated ARP request', arpRequest(A.mac, A.ip, B.ip).subarray(0, 30)],
      ['a VLAN-tagged frame to the remote VM', vlan(B.mac, A.mac, 7, 0x0800, ipv4(A.ip, B.ip))],
      ['a VLAN-tagged ARP request', vlan(BCAST, A.mac, 7, 0x0806, arp(1, A.mac, A.ip, '00:00:00:00:00:00', B.ip))],
    ];
    for (const [what, frame] of cases) {
      it(`drops ${what} and counts it as malformed`, () => {
        const tunnel = count('forwarded-tunnel');
        const malformed = count('dropped-malformed');
        const r = bpf.testRun(vmFd, frame);
        expect(r.retval).toBe(TC_ACT_SHOT);
        expect(count('forwarded-tunnel')).toBe(tunnel);
        expect(count('dropped-malformed')).toBe(malformed + 1);
      });
    }
  });
});

describe('vxm_from_tunnel', () => {
  it('drops a frame that carries no tunnel metadata and counts it', () => {
    const before = count('dropped-unknown-vtep', 0);
    const r = bpf.testRun(tunFd, eth(A.mac, B.mac, 0x0800, ipv4(B.ip, A.ip)));
    expect(r.retval).toBe(TC_ACT_SHOT);
    expect(count('dropped-unknown-vtep', 0)).toBe(before + 1);
  });
});

describe('map reconcile', () => {
  it('holds exactly the intent after applying the diff, and a second diff is empty', () => {
    const env = { ifindex: { lo: 1, vxe0: 999, vxb100: 998 }, vmPorts: { [VNI]: [PORT_LO] }, objectHash: 0 };
    const { state } = desiredMaps(intent, env);
    const observed = maps.readState();
    const changes = diffMaps(observed, state);
    expect(changes).toEqual([{ map: 'vxm_config', op: 'update', key: '00000000', value: state.vxm_config.get('00000000') }]);
  });
});
