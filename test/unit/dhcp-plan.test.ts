import { describe, expect, it } from 'vitest';
import type { NodeIntent } from '../../src/intent/types.js';
import { conflictingLeases, desiredServers, dhcpFilterTable, parseLeases, parseServerDir, planDhcp, pruneLeases, type ServerObserved } from '../../src/dataplane/dhcp/index.js';
import { renderTable } from '../../src/dataplane/netlink/nft.js';

const ep = (mac: string, ip: string, node: string) => ({ vm: `t/${mac}`, iface: 'nic1', mac, ip, node, vtep: node === 'n1' ? '198.18.0.1' : '198.18.0.2', local: node === 'n1' });
const net = (vni: number, dhcp: boolean, endpoints: ReturnType<typeof ep>[]) => ({
  key: `t/net${vni}`, vni, cidr: '10.10.0.0/24', prefixLen: 24, gateway: '10.10.0.1', gatewayMac: '02:76:6d:00:00:64', natOutgoing: true, mtu: 1450, endpoints,
  ...(dhcp ? { dhcp: { leaseTime: 600, dnsServers: ['192.0.2.53'], searchDomains: ['a.example', 'b.example'] } } : {}),
});
const intent = (networks: ReturnType<typeof net>[]): NodeIntent => ({
  node: 'n1',
  clusterNetworks: [{ name: 'overlay', uplink: 'vxmu0', uplinkMtu: 1500, localVtep: '198.18.0.1', port: 4789, peers: ['198.18.0.2'], networks }],
});

const A = ep('02:00:00:00:00:0a', '10.10.0.10', 'n1');
const B = ep('02:00:00:00:00:0b', '10.10.0.11', 'n2');

describe('desiredServers', () => {
  it('binds only the VMs that run on this node, in the router namespace, with router, MTU, DNS and lease time', () => {
    const [s, ...rest] = desiredServers(intent([net(100, true, [A, B]), net(200, false, [])]), '/x');
    expect(rest).toEqual([]); // DHCP off: no server
    expect(s!.ns).toBe('vxmr-n1-100');
    expect(s!.dir).toBe('/x/n1-100');
    expect(s!.hosts).toBe('02:00:00:00:00:0a,10.10.0.10\n');
    expect(s!.argv).toEqual(expect.arrayContaining([
      '--interface=gw0', '--bind-interfaces', '--port=0', '--dhcp-authoritative', '--dhcp-ignore=tag:!known',
      '--dhcp-range=10.10.0.0,static,255.255.255.0,600',
      '--dhcp-option=option:router,10.10.0.1', '--dhcp-option=option:mtu,1450',
      '--dhcp-option=option:dns-server,192.0.2.53',
      '--dhcp-option=option:domain-name,a.example', '--dhcp-option=option:domain-search,a.example,b.example',
      '--dhcp-hostsfile=/x/n1-100/hosts', '--pid-file=/x/n1-100/pid',
    ]));
  });
});

describe('planDhcp', () => {
  const spec = desiredServers(intent([net(100, true, [A, B])]), '/x')[0]!;
  const running = (over: Partial<ServerObserved> = {}): ServerObserved => ({
    node: 'n1', vni: 100, dir: '/x/n1-100', pid: 42, cmdline: spec.argv, inRouterNs: true, routerNsExists: true, hosts: spec.hosts, leases: '', ...over,
  });

  it('starts a missing server and leaves a converged one alone', () => {
    expect(planDhcp('n1', [], [spec]).map((a) => a.op)).toEqual(['start']);
    expect(planDhcp('n1', [running({ pid: undefined })], [spec]).map((a) => a.op)).toEqual(['start']);
    expect(planDhcp('n1', [running()], [spec])).toEqual([]);
  });

  it('reloads (SIGHUP) when only the bindings change, e.g. a VM migrated away', () => {
    expect(planDhcp('n1', [running({ hosts: `${spec.hosts}02:00:00:00:00:0c,10.10.0.12\n` })], [spec]).map((a) => [a.op, a.reason])).toEqual([['reload', 'bindings differ']]);
  });

  it('restarts when options differ, when the server runs outside the router namespace, or when a lease blocks a binding', () => {
    expect(planDhcp('n1', [running({ cmdline: [...spec.argv.slice(0, -1)] })], [spec])[0]!.op).toBe('restart');
    expect(planDhcp('n1', [running({ inRouterNs: false })], [spec])[0]!.op).toBe('restart');
    const stale = '1795558182 02:00:00:00:00:99 10.10.0.10 * 01:02:00:00:00:00:99\n';
    expect(planDhcp('n1', [running({ leases: stale })], [spec])[0]).toMatchObject({ op: 'restart', reason: 'a lease holds an address bound to another MAC' });
  });

  it("stops this node's servers of networks that left or turned DHCP off, and leftovers whose router namespace is gone", () => {
    const acts = planDhcp('n1', [running({ vni: 300, dir: '/x/n1-300' }), running({ node: 'old', dir: '/x/old-100', routerNsExists: false }), running({ node: 'n2', dir: '/x/n2-100' })], []);
    expect(acts.map((a) => [a.op, a.vni, a.op === 'stop' ? a.dir : ''])).toEqual([['stop', 300, '/x/n1-300'], ['stop', 100, '/x/old-100']]);
  });
});

describe('leases', () => {
  const text = '1795558182 02:00:00:00:00:0a 10.10.0.10 * 01:02:00:00:00:00:0a\n1795558183 02:00:00:00:00:99 10.10.0.11 vm *\n';
  it('finds and prunes only leases on an address now bound to another MAC', () => {
    const bindings = [{ mac: '02:00:00:00:00:0a', ip: '10.10.0.10' }, { mac: '02:00:00:00:00:0b', ip: '10.10.0.11' }];
    expect(parseLeases(text).map((l) => l.mac)).toEqual(['02:00:00:00:00:0a', '02:00:00:00:00:99']);
    expect(conflictingLeases(parseLeases(text), bindings).map((l) => l.ip)).toEqual(['10.10.0.11']);
    expect(pruneLeases(text, bindings)).toBe('1795558182 02:00:00:00:00:0a 10.10.0.10 * 01:02:00:00:00:00:0a\n');
  });
  it('parses server directory names from the right (node names may contain dashes)', () => {
    expect(parseServerDir('node-a-1-100')).toEqual({ node: 'node-a-1', vni: 100 });
    expect(parseServerDir('junk')).toBeUndefined();
  });
});

describe('dhcpFilterTable', () => {
  it('drops DHCP bridged to or from the vxlan ports', () => {
    const t = renderTable(dhcpFilterTable());
    expect(t).toMatch(/^table bridge vxmesh_dhcp/);
    expect(t).toContain('oifname "vxl*" udp dport { 67, 68 } drop');
    expect(t).toContain('iifname "vxl*" udp dport { 67, 68 } drop');
  });
});
