import { describe, expect, it } from 'vitest';
import type { EndpointIntent, NodeIntent } from '../../src/intent/types.js';
import type { LinkInfo } from '../../src/dataplane/netlink/link.js';
import { desiredMaps, diffMaps, emptyState } from '../../src/dataplane/bpf/desired.js';
import { nativeEncapFrom, nodeEnv, planDevices, uplinkIfindexes } from '../../src/dataplane/bpf/devices.js';
import { planAttach } from '../../src/dataplane/bpf/attach.js';
import {
  CFG_NATIVE_OFF, EP_ARRIVING, EP_LOCAL, EP_MOVING, EP_REMOTE, NET_MOVING, PORT_GATEWAY, PORT_UNBOUND, PORT_VM, clusterId, decode, hostIpString, ipHost, macString,
} from '../../src/dataplane/bpf/abi.js';

const intent: NodeIntent = {
  node: 'n1',
  clusterNetworks: [{
    name: 'overlay', uplink: 'vxmu0', uplinkMtu: 1500, localVtep: '198.18.0.1', port: 4789, peers: ['198.18.0.2', '198.18.0.3'],
    networks: [{
      key: 'default/blue', vni: 100, cidr: '10.0.0.0/24', prefixLen: 24, gateway: '10.0.0.1', gatewayMac: '02:76:6d:00:00:64',
      natOutgoing: false, mtu: 1450,
      endpoints: [
        { vm: 'default/a', iface: 'nic', mac: '02:00:00:00:00:0a', ip: '10.0.0.10', node: 'n1', vtep: '198.18.0.1', local: true },
        { vm: 'default/b', iface: 'nic', mac: '02:00:00:00:00:0b', ip: '10.0.0.11', node: 'n2', vtep: '198.18.0.2', local: false },
      ],
    }],
  }],
};
const bound = (name: string, ifindex: number, vm?: string) => ({ name, ifindex, vni: 100, ...(vm ? { binding: { vm: `default/${vm}`, iface: 'nic' } } : {}) });
const env = { ifindex: { vxe0: 9, vxb100: 5, vxg100: 6, vmp1: 7 }, vmPorts: { 100: [bound('vmp1', 7, 'a')] }, objectHash: 42 };
const link = (name: string, ifindex: number, extra: Partial<LinkInfo> = {}): LinkInfo => ({ name, ifindex, up: true, mtu: 1500, addrs: [], ...extra });

describe('desiredMaps', () => {
  const { state, errors } = desiredMaps(intent, env);
  const entries = (t: Map<string, string>) => [...t].map(([k, v]) => [Buffer.from(k, 'hex'), Buffer.from(v, 'hex')] as const);

  it('maps each VM port and the gateway leg to the VNI with its kind', () => {
    expect(errors).toEqual([]);
    const ports = entries(state.vxm_ports).map(([k, v]) => [k.readUInt32LE(0), decode('vxm_port', v)]);
    expect(ports).toEqual([[6, { vni: 100, flags: 2 }], [7, { vni: 100, flags: 1 }]]);
  });

  it('stores local endpoints with the port bound to their NIC and remote ones with their VTEP in host order', () => {
    const eps = entries(state.vxm_endpoints).map(([k, v]) => {
      const key = decode<{ vni: number; mac: number[] }>('vxm_endpoint_key', k);
      const val = decode<{ remote_vtep: number; ifindex: number; flags: number }>('vxm_endpoint', v);
      return [key.vni, macString(key.mac), val.remote_vtep ? hostIpString(val.remote_vtep) : val.ifindex, val.flags];
    });
    expect(eps).toEqual([[100, '02:00:00:00:00:0a', 7, 1], [100, '02:00:00:00:00:0b', '198.18.0.2', 2]]);
  });

  it('answers ARP for every VM and the gateway, trusts all member VTEPs and floods only to the peers holding the VNI', () => {
    expect(state.vxm_arp.size).toBe(3);
    expect(state.vxm_vteps.size).toBe(3);
    const fl = decode<{ count: number; ips: number[] }>('vxm_flood', Buffer.from([...state.vxm_flood.values()][0]!, 'hex'));
    // 198.18.0.3 is a member without a VM of VNI 100: it gets none of its broadcasts
    expect(fl.count).toBe(1);
    expect(fl.ips.slice(0, 2)).toEqual([ipHost('198.18.0.2'), 0]);
    const net = decode<{ bridge_ifindex: number; cluster_id: number }>('vxm_network', Buffer.from([...state.vxm_networks.values()][0]!, 'hex'));
    expect(net).toMatchObject({ bridge_ifindex: 5, cluster_id: clusterId('overlay') });
  });

  it('marks VM ports bound to no NIC of this node UNBOUND, and a local VM without a bound port gets port 0', () => {
    const e = { ...env, ifindex: { ...env.ifindex, vmp2: 8, vmp3: 9 }, vmPorts: { 100: [bound('vmp1', 7), bound('vmp2', 8, 'b'), bound('vmp3', 9, 'zz')] } };
    const st = desiredMaps(intent, e).state;
    const ports = entries(st.vxm_ports).map(([k, v]) => [k.readUInt32LE(0), decode<{ flags: number }>('vxm_port', v).flags]);
    // vmp1 has no binding, vmp2 is bound to b (which runs on n2), vmp3 to a VM that does not exist
    expect(ports).toEqual([[6, PORT_GATEWAY], [7, PORT_UNBOUND], [8, PORT_UNBOUND], [9, PORT_UNBOUND]]);
    const a = entries(st.vxm_endpoints).map(([, v]) => decode<{ ifindex: number; flags: number }>('vxm_endpoint', v))[0]!;
    expect(a).toMatchObject({ ifindex: 0, flags: EP_LOCAL });
  });

  it('leaves out a network whose values cannot be encoded, reports it by name, and still computes the others', () => {
    const bad = { ...intent.clusterNetworks[0]!.networks[0]!, key: 'default/bad', vni: 300, cidr: '10.3.0.0/24', gateway: '10.3.0.999', endpoints: [] };
    const two: NodeIntent = { ...intent, clusterNetworks: [{ ...intent.clusterNetworks[0]!, networks: [...intent.clusterNetworks[0]!.networks, bad] }] };
    const r = desiredMaps(two, env);
    expect(r.errors).toEqual([{ network: 'default/bad', vni: 300, message: 'cannot be programmed, left out: bad IPv4 10.3.0.999' }]);
    // Every table holds exactly what the good network alone gives: nothing of VNI 300, nothing of blue missing.
    for (const m of Object.keys(state) as Array<keyof typeof state>) expect([...r.state[m]], m).toEqual([...state[m]]);
  });

  it('serves one VTEP port per node: a cluster network on a second port is reported and left out, the first one programmed', () => {
    const first = intent.clusterNetworks[0]!;
    const edge = {
      ...first, name: 'edge', port: 8472, peers: ['198.19.0.2'], localVtep: '198.19.0.1',
      networks: [{ ...first.networks[0]!, key: 'default/green', vni: 300, endpoints: [] }],
    };
    const r = desiredMaps({ ...intent, clusterNetworks: [first, edge] }, env);
    expect(r.errors).toEqual([{ message: "cluster network edge: port 8472 differs from the first cluster network's; one VTEP port per node is supported in bpf mode" }]);
    for (const m of Object.keys(state) as Array<keyof typeof state>) expect([...r.state[m]], m).toEqual([...state[m]]);
  });

  it('diffs to the minimal change set: all updates from empty, nothing when equal, deletes for stale keys', () => {
    const fromEmpty = diffMaps(emptyState(), state);
    expect(fromEmpty.every((c) => c.op === 'update')).toBe(true);
    expect(fromEmpty.length).toBe([...Object.values(state)].reduce((n, t) => n + t.size, 0));
    expect(diffMaps(state, state)).toEqual([]);
    const observed = desiredMaps(intent, env).state;
    observed.vxm_ports.set('63000000', '6400000001000000');
    expect(diffMaps(observed, state)).toEqual([{ map: 'vxm_ports', op: 'delete', key: '63000000' }]);
  });
});

describe('desiredMaps during a live migration', () => {
  const N2 = '198.18.0.2';
  const N3 = '198.18.0.3';
  const mac = (x: string) => `02:00:00:00:00:${x}`;
  const ep = (x: string, node: string, vtep: string, more: Partial<EndpointIntent> = {}): EndpointIntent =>
    ({ vm: `default/${x}`, iface: 'nic', mac: mac(x), ip: `10.0.0.${parseInt(x, 16)}`, node, vtep, local: node === 'n1', ...more });
  // On n1: a local; c migrating n2 -> n1 (arriving here); d migrating n1 -> n3; e migrating n2 -> n3.
  const migrating = [
    ep('0a', 'n1', '198.18.0.1'),
    ep('0c', 'n2', N2, { migratingTo: { node: 'n1', vtep: '198.18.0.1' }, arriving: true }),
    ep('0d', 'n1', '198.18.0.1', { migratingTo: { node: 'n3', vtep: N3 } }),
    ep('0e', 'n2', N2, { migratingTo: { node: 'n3', vtep: N3 } }),
  ];
  const withEndpoints = (endpoints: EndpointIntent[]): NodeIntent => ({
    ...intent, clusterNetworks: [{ ...intent.clusterNetworks[0]!, networks: [{ ...intent.clusterNetworks[0]!.networks[0]!, endpoints }] }],
  });
  // vmp1 is bound to a (local), vmp2 to c's NIC (the target's new port), vmp3 to d (local, leaving).
  const migEnv = (localPorts: Record<string, number> = {}, remoteVteps: Record<string, number> = {}) => ({
    ifindex: { vxe0: 9, vxb100: 5, vxg100: 6, vmp1: 7, vmp2: 8, vmp3: 10 },
    vmPorts: { 100: [bound('vmp1', 7, '0a'), bound('vmp2', 8, '0c'), bound('vmp3', 10, '0d')] },
    localPorts: { 100: localPorts }, remoteVteps: { 100: remoteVteps }, objectHash: 42,
  });
  const view = (endpoints: EndpointIntent[], env: ReturnType<typeof migEnv>) => {
    const { state } = desiredMaps(withEndpoints(endpoints), env);
    const eps = Object.fromEntries([...state.vxm_endpoints].map(([k, v]) => {
      const key = decode<{ mac: number[] }>('vxm_endpoint_key', Buffer.from(k, 'hex'));
      const val = decode<{ remote_vtep: number; ifindex: number; flags: number; next_vtep: number }>('vxm_endpoint', Buffer.from(v, 'hex'));
      const where = val.remote_vtep ? hostIpString(val.remote_vtep) : val.ifindex;
      return [macString(key.mac).slice(-2), [where, flagNames(val.flags), val.next_vtep ? hostIpString(val.next_vtep) : 0]];
    }));
    const ports = Object.fromEntries([...state.vxm_ports].map(([k, v]) => [Buffer.from(k, 'hex').readUInt32LE(0), decode<{ flags: number }>('vxm_port', Buffer.from(v, 'hex')).flags]));
    const net = decode<{ flags: number }>('vxm_network', Buffer.from([...state.vxm_networks.values()][0]!, 'hex'));
    return { eps, ports, netFlags: net.flags };
  };
  it('floods to a migration target before the VM runs there (n1 -> n3 only while d migrates)', () => {
    const flood = (endpoints: EndpointIntent[]) => {
      const v = [...desiredMaps(withEndpoints(endpoints), migEnv({})).state.vxm_flood.values()][0]!;
      const fl = decode<{ count: number; ips: number[] }>('vxm_flood', Buffer.from(v, 'hex'));
      return fl.ips.slice(0, fl.count).map(hostIpString);
    };
    expect(flood([migrating[0]!])).toEqual([]);
    expect(flood([migrating[0]!, migrating[2]!])).toEqual([N3]);
    expect(flood(migrating)).toEqual([N2, N3]);
  });
  const flagNames = (f: number) => [[EP_LOCAL, 'local'], [EP_REMOTE, 'remote'], [EP_ARRIVING, 'arriving'], [EP_MOVING, 'moving']].filter(([b]) => f & (b as number)).map(([, n]) => n).join('|');

  it('keeps an arriving VM remote behind the source, carrying the target port bound to its NIC', () => {
    const v = view(migrating, migEnv());
    expect(v.eps['0c']).toEqual([N2, 'remote|arriving', 0]);
    const { state } = desiredMaps(withEndpoints(migrating), migEnv());
    const c = [...state.vxm_endpoints].map(([k, val]) => [decode<{ mac: number[] }>('vxm_endpoint_key', Buffer.from(k, 'hex')), decode<{ ifindex: number }>('vxm_endpoint', Buffer.from(val, 'hex'))] as const)
      .find(([k]) => macString(k.mac) === mac('0c'))!;
    expect(c[1].ifindex).toBe(8);
    expect(v.ports).toEqual({ 6: PORT_GATEWAY, 7: PORT_VM, 8: PORT_VM, 10: PORT_VM });
  });

  it('keeps the promotion the program made on the bound port while the migration is in progress', () => {
    expect(view(migrating, migEnv({ [mac('0c')]: 8 })).eps['0c']).toEqual([8, 'local|arriving', 0]);
  });

  it('never keeps an arriving VM local on a port other than its bound one', () => {
    expect(view(migrating, migEnv({ [mac('0c')]: 7 })).eps['0c']).toEqual([N2, 'remote|arriving', 0]);
  });

  it('flags VMs leaving for another node MOVING with the target VTEP, and their VNI for vxm_from_tunnel', () => {
    const v = view(migrating, migEnv());
    expect(v.eps['0d']).toEqual([10, 'local|moving', N3]);
    expect(v.eps['0e']).toEqual([N2, 'remote|moving', N3]);
    expect(v.netFlags).toBe(NET_MOVING);
  });

  it('keeps a move vxm_from_tunnel learned (entry behind the target already) until completion', () => {
    const v = view(migrating, migEnv({}, { [mac('0d')]: ipHost(N3), [mac('0e')]: ipHost(N3) }));
    expect(v.eps['0d']).toEqual([N3, 'remote|moving', N3]);
    expect(v.eps['0e']).toEqual([N3, 'remote|moving', N3]);
    // a remote VTEP that is not the target is no reason to deviate from the intent
    expect(view(migrating, migEnv({}, { [mac('0e')]: ipHost('198.18.0.9') })).eps['0e']).toEqual([N2, 'remote|moving', N3]);
  });

  it('writes plain entries and no flags once the migration is over', () => {
    const done = [ep('0a', 'n1', '198.18.0.1'), ep('0c', 'n1', '198.18.0.1'), ep('0d', 'n3', N3), ep('0e', 'n3', N3)];
    const v = view(done, migEnv({ [mac('0c')]: 8 }, { [mac('0d')]: ipHost(N3) }));
    expect(v.eps).toEqual({ '0a': [7, 'local', 0], '0c': [8, 'local', 0], '0d': [N3, 'remote', 0], '0e': [N3, 'remote', 0] });
    // d runs on n3 now: its old port here is bound to a VM NIC that is not on this node, and carries nothing
    expect(v.ports).toEqual({ 6: PORT_GATEWAY, 7: PORT_VM, 8: PORT_VM, 10: PORT_UNBOUND });
    expect(v.netFlags).toBe(0);
  });
});

describe('planDevices', () => {
  it('creates vxe0 as an external vxlan device and removes kernel-mode vxl devices first', () => {
    const steps = planDevices([link('vxl100', 3, { kind: 'vxlan' })], intent).map((s) => s.argv.join(' '));
    expect(steps).toEqual([
      'ip link del vxl100',
      'ip link add vxe0 mtu 1450 type vxlan external dstport 4789 nolearning',
      'ip link set vxe0 up',
    ]);
  });

  it('leaves a matching vxe0 alone and recreates one that is not collect-metadata', () => {
    const good = link('vxe0', 9, { kind: 'vxlan', mtu: 1450, vxlan: { id: 0, port: 4789, learning: false, proxy: false, external: true } });
    expect(planDevices([good], intent)).toEqual([]);
    const bad = { ...good, vxlan: { ...good.vxlan!, external: false } };
    expect(planDevices([bad], intent)[0]!.argv.join(' ')).toBe('ip link del vxe0');
  });
});

describe('nodeEnv', () => {
  const links = [
    link('vxb100', 5, { kind: 'bridge' }), link('vxg100', 6, { master: 'vxb100' }),
    link('vmp1', 7, { master: 'vxb100', alias: 'vxmesh/default/a/nic' }), link('vmp2', 8, { master: 'vxb100', alias: 'not a binding' }),
  ];
  it('finds VM ports as non-vxmesh bridge members with the binding their alias names', () => {
    expect(nodeEnv(links, 1).vmPorts).toEqual({ 100: [bound('vmp1', 7, 'a'), { ...bound('vmp2', 8), alias: 'not a binding' }].map((p, i) => (i === 0 ? { ...p, alias: 'vxmesh/default/a/nic' } : p)) });
  });
});

describe('planAttach', () => {
  it('attaches where missing or stale and detaches where no longer wanted', () => {
    const steps = planAttach(new Map([[7, 'fromVm'], [9, 'fromTunnel'], [6, 'fromVm']]), new Map([[7, 11], [9, 5], [4, 11]]), { fromVm: 11, fromTunnel: 12 });
    expect(steps).toEqual([{ op: 'attach', ifindex: 9, prog: 'fromTunnel' }, { op: 'attach', ifindex: 6, prog: 'fromVm' }, { op: 'detach', ifindex: 4 }]);
  });
});

describe('native encapsulation (encap.h, vxm_from_uplink)', () => {
  const netOf = (e: typeof env) => decode<{ local_vtep: number[]; uplink_ifindex: number; vtep_port: number[] }>('vxm_network', Buffer.from([...desiredMaps(intent, e).state.vxm_networks.values()][0]!, 'hex'));
  const cfgOf = (e: typeof env & { nativeEncap?: boolean }) => decode<{ flags: number }>('vxm_config', Buffer.from([...desiredMaps(intent, e).state.vxm_config.values()][0]!, 'hex'));

  it('gives each network its cluster network\'s underlay: VTEP address, uplink ifindex, UDP port (network order)', () => {
    expect(netOf({ ...env, ifindex: { ...env.ifindex, vxmu0: 3 } })).toMatchObject({ local_vtep: [198, 18, 0, 1], uplink_ifindex: 3, vtep_port: [0x12, 0xb5] });
  });

  it('leaves the underlay zero (every frame through vxe0) while the uplink is not found on the node', () => {
    expect(netOf(env)).toMatchObject({ local_vtep: [0, 0, 0, 0], uplink_ifindex: 0, vtep_port: [0, 0] });
  });

  it('sets the off flag in vxm_config when native encapsulation is turned off, and attaches to no uplink then', () => {
    expect(cfgOf({ ...env, nativeEncap: false }).flags & CFG_NATIVE_OFF).toBe(CFG_NATIVE_OFF);
    expect(cfgOf(env).flags & CFG_NATIVE_OFF).toBe(0);
    const links = [link('vxmu0', 3), link('vxe0', 9)];
    expect(uplinkIfindexes(intent, links, true)).toEqual([3]);
    expect(uplinkIfindexes(intent, links, false)).toEqual([]);
    expect(uplinkIfindexes(intent, [link('vxe0', 9)], true)).toEqual([]);
    expect(nativeEncapFrom({ VXMESH_NATIVE_ENCAP: 'off' })).toBe(false);
    expect(nativeEncapFrom({})).toBe(true);
  });
});
