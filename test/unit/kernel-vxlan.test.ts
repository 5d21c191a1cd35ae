import { describe, it, expect } from 'vitest';
import { planVxlans, vxlanDiff } from '../../src/dataplane/kernel/vxlan.js';
import { describeChange, Phase } from '../../src/dataplane/netlink/change.js';
import { net, intent, link } from '../helpers/kernel-fixtures.js';

const good = () =>
  link('vxl100', {
    kind: 'vxlan', mtu: 1450, master: 'vxb100', portLearning: false,
    vxlan: { id: 100, local: '198.18.0.11', port: 4789, dev: 'vxmu0', learning: false, proxy: true, external: false },
  });

describe('planVxlans', () => {
  it('creates a device with the right attributes, enslaves it, turns port learning off, brings it up', () => {
    const p = planVxlans([], intent([net(100)]));
    expect(p.changes.map(describeChange)).toEqual([
      'ip link add vxl100 mtu 1450 type vxlan id 100 dstport 4789 local 198.18.0.11 dev vxmu0 nolearning proxy',
      'ip link set vxl100 master vxb100',
      'ip link set dev vxl100 type bridge_slave learning off',
      'ip link set vxl100 up',
    ]);
    expect([...p.fresh]).toEqual([100]);
  });

  it('keeps a compatible device untouched', () => {
    const p = planVxlans([good()], intent([net(100)]));
    expect(p.changes).toEqual([]);
    expect(p.fresh.size).toBe(0);
  });

  it('recreates a device whose port or local address differs and names each attribute', () => {
    const l = good();
    l.vxlan!.port = 4790;
    l.vxlan!.local = '198.18.0.99';
    const p = planVxlans([l], intent([net(100)]));
    expect(p.changes[0]!.args).toEqual(['link', 'del', 'vxl100']);
    expect(p.changes[0]!.reason).toBe('vxlan attributes differ: port 4790 -> 4789, local 198.18.0.99 -> 198.18.0.11');
    expect(p.fresh.has(100)).toBe(true);
  });

  it('lists every differing attribute, learning and proxy included', () => {
    const l = good();
    l.vxlan!.learning = true;
    l.vxlan!.proxy = false;
    l.vxlan!.dev = 'eth9';
    expect(vxlanDiff(l, { vni: 100, local: '198.18.0.11', port: 4789, dev: 'vxmu0', mtu: 1450 })).toEqual([
      'dev eth9 -> vxmu0', 'learning true -> false', 'proxy false -> true',
    ]);
  });

  it('fixes mtu, master, port learning and state in place', () => {
    const l = good();
    l.mtu = 1500;
    l.portLearning = true;
    l.up = false;
    expect(planVxlans([l], intent([net(100)])).changes.map(describeChange)).toEqual([
      'ip link set vxl100 mtu 1450',
      'ip link set dev vxl100 type bridge_slave learning off',
      'ip link set vxl100 up',
    ]);
  });

  it('deletes devices of networks that left the intent, in the last link phase', () => {
    const p = planVxlans([good(), link('vxmu0')], intent([]));
    expect(p.changes.map(describeChange)).toEqual(['ip link del vxl100']);
    expect(p.changes[0]!.phase).toBe(Phase.linkDel);
  });
});
