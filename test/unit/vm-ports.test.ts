import { describe, expect, it } from 'vitest';
import type { EndpointIntent, NodeIntent } from '../../src/intent/types.js';
import type { LinkInfo } from '../../src/dataplane/netlink/link.js';
import { UnboundReporter, assignPorts, vmPortsByVni } from '../../src/dataplane/vm-ports.js';
import { antispoofDigest, antispoofState, planAntispoof, renderAntispoof } from '../../src/dataplane/kernel/antispoof.js';
import type { ObservedTable } from '../../src/dataplane/netlink/nft.js';

const link = (name: string, ifindex: number, extra: Partial<LinkInfo> = {}): LinkInfo => ({ name, ifindex, up: true, mtu: 1500, addrs: [], ...extra });
const ep = (vm: string, mac: string, ip: string, more: Partial<EndpointIntent> = {}): EndpointIntent =>
  ({ vm: `t/${vm}`, iface: 'nic1', mac, ip, node: 'n1', vtep: '198.18.0.1', local: true, ...more });
const A = ep('a', '02:00:00:00:00:0a', '10.0.0.10');
const B = ep('b', '02:00:00:00:00:0b', '10.0.0.11', { node: 'n2', vtep: '198.18.0.2', local: false });
const C = ep('c', '02:00:00:00:00:0c', '10.0.0.12', { node: 'n2', vtep: '198.18.0.2', local: false, arriving: true, migratingTo: { node: 'n1', vtep: '198.18.0.1' } });
const links = [
  link('vxb100', 5, { kind: 'bridge' }), link('vxg100', 6, { master: 'vxb100' }),
  link('p-a', 7, { master: 'vxb100', alias: 'vxmesh/t/a/nic1' }),
  link('p-b', 8, { master: 'vxb100', alias: 'vxmesh/t/b/nic1' }), // b runs on n2
  link('p-c', 9, { master: 'vxb100', alias: 'vxmesh/t/c/nic1' }), // c is arriving here
  link('p-x', 10, { master: 'vxb100' }), // no binding
  link('p-a2', 11, { master: 'vxb100', alias: 'vxmesh/t/a/nic1' }), // a restarted: its new port
  link('p-z', 12, { master: 'vxb200', alias: 'vxmesh/t/a/nic1' }), // a bridge this node does not serve
];
const intent: NodeIntent = {
  node: 'n1',
  clusterNetworks: [{
    name: 'overlay', uplink: 'vxmu0', uplinkMtu: 1500, localVtep: '198.18.0.1', port: 4789, peers: ['198.18.0.2'],
    networks: [{ key: 't/blue', vni: 100, cidr: '10.0.0.0/24', prefixLen: 24, gateway: '10.0.0.1', gatewayMac: '02:76:6d:00:00:64', natOutgoing: false, mtu: 1450, endpoints: [A, B, C] }],
  }],
};

describe('VM port binding', () => {
  const ports = vmPortsByVni(links);

  it('binds a port only to a NIC of its own network that runs or arrives here; the newest of two ports for one NIC wins', () => {
    const r = assignPorts([A, B, C], ports[100]!);
    expect(Object.fromEntries([...r.portOf].map(([mac, p]) => [mac, p.name]))).toEqual({ [A.mac]: 'p-a2', [C.mac]: 'p-c' });
    expect(r.unbound.map((p) => p.name)).toEqual(['p-a', 'p-b', 'p-x']);
  });

  it('logs each unbound port once while it stays unbound', () => {
    const rep = new UnboundReporter();
    const un = assignPorts([A, B, C], ports[100]!).unbound;
    expect(rep.fresh(un).map((p) => p.name)).toEqual(['p-a', 'p-b', 'p-x']);
    expect(rep.fresh(un)).toEqual([]);
    expect(rep.fresh(un.slice(1))).toEqual([]);
    expect(rep.fresh(un).map((p) => p.name)).toEqual(['p-a']);
  });
});

describe('anti-spoofing table', () => {
  const state = antispoofState(intent, links);

  it('admits bound ports with their VM\'s MAC and IPv4 only; every other VM port, of any bridge, is unbound', () => {
    expect(state.sets.admitted).toEqual(['11', '9']);
    expect(state.sets.macs).toEqual([`11 . ${A.mac}`, `9 . ${C.mac}`]);
    expect(state.sets.ips).toEqual(['11 . 10.0.0.10', '9 . 10.0.0.12']);
    expect(state.sets.unbound).toEqual(['10', '12', '7', '8']);
    expect(state.sets.overlay_macs).toEqual([A.mac, C.mac, '02:76:6d:00:00:64']); // b runs elsewhere
  });

  it('creates the table in one script, then changes set elements only, revocations first, in one transaction', () => {
    const create = planAntispoof(undefined, state, links);
    expect(create).toHaveLength(1);
    expect(create[0]!.args[0]).toBe(renderAntispoof(state));
    const sets = Object.entries(state.sets).map(([name, els]) => ({ name, type: { admitted: 'iface_index', unbound: 'iface_index', macs: 'iface_index . ether_addr', ips: 'iface_index . ipv4_addr', overlay_macs: 'ether_addr' }[name]!, elements: els }));
    const observed: ObservedTable = {
      family: 'bridge', name: 'vxmesh_antispoof', sets,
      chains: [{ name: 'vm', rules: [] }, { name: 'prerouting', rules: [antispoofDigest] }, { name: 'from_vxmesh', rules: [] }, { name: 'forward', rules: [] }],
    };
    expect(planAntispoof(observed, state, links)).toEqual([]);
    // nft lists interface names: the same content
    const named = { ...observed, sets: sets.map((s) => (s.name === 'admitted' ? { ...s, elements: ['p-a2', 'p-c'] } : s)) };
    expect(planAntispoof(named, state, links)).toEqual([]);
    // drift: a stale admission and a missing MAC
    const drift = { ...observed, sets: sets.map((s) => (s.name === 'admitted' ? { ...s, elements: ['p-a', 'p-c'] } : s.name === 'macs' ? { ...s, elements: [`9 . ${C.mac}`] } : s)) };
    expect(planAntispoof(drift, state, links)[0]!.args[0]).toBe([
      'delete element bridge vxmesh_antispoof admitted { 7 }',
      'add element bridge vxmesh_antispoof admitted { 11 }',
      `add element bridge vxmesh_antispoof macs { 11 . ${A.mac} }`,
    ].join('\n'));
    // other rules: the table is replaced as a whole, in the same transaction
    const edited = { ...observed, chains: observed.chains.map((c) => (c.name === 'prerouting' ? { ...c, rules: [undefined] } : c)) };
    expect(planAntispoof(edited, state, links)[0]!.args[0]).toMatch(/^table bridge vxmesh_antispoof \{\}\ndelete table bridge vxmesh_antispoof\ntable bridge/);
  });
});
