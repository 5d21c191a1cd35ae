import { describe, it, expect } from 'vitest';
import { parseLinks } from '../../src/dataplane/netlink/link.js';
import { parseFdb } from '../../src/dataplane/netlink/fdb.js';
import { chain, parseRuleset, planTable, renderTable, ruleComment, type NftTableSpec } from '../../src/dataplane/netlink/nft.js';
import { parseBatchFailures } from '../../src/dataplane/netlink/batch.js';
import { orderChanges, type Change } from '../../src/dataplane/netlink/change.js';
import { asObserved } from '../helpers/kernel-fixtures.js';

const spec = (elements: string[]): NftTableSpec => ({
  family: 'inet', name: 'vxmesh_vtep',
  sets: [{ name: 'vteps_overlay', type: 'ipv4_addr', elements }],
  chains: [chain('filter', 'prerouting', -300, [{ id: 'vtep:overlay', text: 'iifname "vxmu0" udp dport 4789 ip saddr != @vteps_overlay counter drop' }])],
});

describe('nft tables', () => {
  it('renders a table with commented rules and sets (an empty set has no elements clause)', () => {
    const text = renderTable(spec([]));
    expect(text).toContain('set vteps_overlay { type ipv4_addr; }');
    expect(text).toContain('type filter hook prerouting priority -300; policy accept;');
    expect(text).toMatch(/counter drop comment "vtep:overlay#[0-9a-f]{8}"/);
  });

  it('creates a missing table and deletes an unwanted one', () => {
    expect(planTable(undefined, spec(['198.18.0.12']))[0]!.args[0]).toContain('table inet vxmesh_vtep {');
    expect(planTable(asObserved(spec([])), undefined)[0]!.args).toEqual(['delete table inet vxmesh_vtep']);
    expect(planTable(undefined, undefined)).toEqual([]);
  });

  it('updates set members in place instead of rebuilding the table', () => {
    const got = planTable(asObserved(spec(['198.18.0.12', '198.18.0.13'])), spec(['198.18.0.13', '198.18.0.14']));
    expect(got.map((c) => c.args[0])).toEqual([
      'add element inet vxmesh_vtep vteps_overlay { 198.18.0.14 }',
      'delete element inet vxmesh_vtep vteps_overlay { 198.18.0.12 }',
    ]);
  });

  it('replaces the whole table atomically when a rule was changed or removed by hand', () => {
    const obs = asObserved(spec(['198.18.0.12']));
    obs.chains[0]!.rules = [];
    const got = planTable(obs, spec(['198.18.0.12']));
    expect(got).toHaveLength(1);
    expect(got[0]!.args[0]).toMatch(/^table inet vxmesh_vtep \{\}\ndelete table inet vxmesh_vtep\ntable inet vxmesh_vtep \{/);
    expect(got[0]!.reason).toBe('chain prerouting rules differ');
  });

  it('reads back only vxmesh tables from nft -j output', () => {
    const r = spec(['198.18.0.12']).chains[0]!.rules[0]!;
    const json = {
      nftables: [
        { metainfo: { version: '1.0.6' } },
        { table: { family: 'inet', name: 'vxmesh_vtep', handle: 2 } },
        { table: { family: 'ip', name: 'filter', handle: 3 } },
        { set: { family: 'inet', name: 'vteps_overlay', table: 'vxmesh_vtep', type: 'ipv4_addr', handle: 2, elem: ['198.18.0.12'] } },
        { chain: { family: 'inet', table: 'vxmesh_vtep', name: 'prerouting', handle: 1, type: 'filter', hook: 'prerouting', prio: -300, policy: 'accept' } },
        { chain: { family: 'ip', table: 'filter', name: 'input', handle: 1 } },
        { rule: { family: 'inet', table: 'vxmesh_vtep', chain: 'prerouting', handle: 3, comment: ruleComment(r), expr: [] } },
      ],
    };
    const tables = parseRuleset(json);
    expect(tables).toHaveLength(1);
    expect(planTable(tables[0], spec(['198.18.0.12']))).toEqual([]);
  });
});

describe('netlink parsing', () => {
  it('reads vxlan attributes and bridge-port learning from ip -j -d addr', () => {
    const [l] = parseLinks([{
      ifindex: 5, ifname: 'vxl100', flags: ['BROADCAST', 'UP'], mtu: 1450, master: 'vxb100', address: '52:9b:09:c9:ad:ae',
      addr_info: [{ family: 'inet', local: '10.0.0.1', prefixlen: 24 }, { family: 'inet6', local: 'fe80::1', prefixlen: 64 }],
      linkinfo: {
        info_kind: 'vxlan', info_data: { id: 100, local: '198.18.0.11', link: 'vxmu0', port: 4789, learning: false, proxy: true },
        info_slave_kind: 'bridge', info_slave_data: { learning: false },
      },
    }]);
    expect(l).toEqual({
      name: 'vxl100', ifindex: 5, kind: 'vxlan', master: 'vxb100', up: true, mtu: 1450, mac: '52:9b:09:c9:ad:ae', addrs: ['10.0.0.1/24'], ipv6Addrs: ['fe80::1/64'],
      vxlan: { id: 100, local: '198.18.0.11', port: 4789, dev: 'vxmu0', learning: false, proxy: true, external: false }, portLearning: false,
    });
  });

  it('tells self (vxlan) entries from master (bridge) entries', () => {
    const got = parseFdb([
      { mac: '52:54:00:00:00:02', ifname: 'vxl100', flags: [], master: 'vxb100', state: 'static' },
      { mac: '52:54:00:00:00:02', ifname: 'vxl100', dst: '198.18.0.12', flags: ['self'], state: 'permanent' },
    ]);
    expect(got.map((e) => [e.self, e.dst, e.state])).toEqual([[false, undefined, 'static'], [true, '198.18.0.12', 'permanent']]);
  });
});

describe('batch apply helpers', () => {
  const c = (n: number, vni?: number): Change => ({ tool: 'ip', args: ['link', 'set', `x${n}`, 'up'], phase: 10, vni });

  it('maps "Command failed -:N" back to the failing changes with their error text', () => {
    const out = 'Cannot find device "x2"\nCommand failed -:2\nCannot find device "x3"\nCommand failed -:3\n';
    const f = parseBatchFailures([c(1), c(2, 200), c(3, 300)], out);
    expect(f.map((x) => [x.change.vni, x.message])).toEqual([[200, 'Cannot find device "x2"'], [300, 'Cannot find device "x3"']]);
  });

  it('blames the whole group when the output has no line markers', () => {
    expect(parseBatchFailures([c(1), c(2)], 'Cannot open netns')).toHaveLength(2);
  });

  it('orders changes by phase and keeps the planner order within a phase', () => {
    const got = orderChanges([{ ...c(1), phase: 90 }, c(2), { ...c(3), phase: 0 }, c(4)]);
    expect(got.map((x) => x.args[2])).toEqual(['x3', 'x2', 'x4', 'x1']);
  });
});
