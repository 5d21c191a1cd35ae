/**
 * vxmesh's own devices never speak IPv6 into a tenant's network (netlink/ipv6-silence.ts): each device
 * the plans create gets `addrgenmode none` before it comes up, a device that already has an IPv6 address
 * loses it, and a namespace without IPv6 gets neither (the command would fail there).
 */
import { describe, it, expect } from 'vitest';
import { planGateways } from '../../src/dataplane/gateway/plan.js';
import { planBridges } from '../../src/dataplane/gateway/bridges.js';
import { planVxlans } from '../../src/dataplane/kernel/vxlan.js';
import { planDevices } from '../../src/dataplane/bpf/devices.js';
import { ipv6Silence } from '../../src/dataplane/netlink/ipv6-silence.js';
import { orderChanges, describeChange } from '../../src/dataplane/netlink/change.js';
import { emptyNode } from '../../src/dataplane/netlink/observe.js';
import { net, intent, link, convergedGateway } from '../helpers/kernel-fixtures.js';

/** A node namespace that runs IPv6 (lo has ::1) and nothing of vxmesh yet. */
const ipv6Node = () => {
  const node = emptyNode();
  node.links.push(link('lo', { mtu: 65536, ipv6Addrs: ['::1/128'] }), link('vxmu0', { addrs: ['198.18.0.11/24'], ipv6Addrs: ['fe80::1/64'] }));
  return node;
};
const LL = 'fe80::aa:bbff:fecc:dd01/64';

/** Index of `line` in `got`; fails the test if it is absent. */
const at = (got: string[], line: string) => {
  const i = got.indexOf(line);
  expect(got, `missing: ${line}`).toContain(line);
  return i;
};

describe('vxmesh devices carry no IPv6', () => {
  it('every device a fresh gateway and bridge get is silenced before it comes up', () => {
    const want = intent([net(100)]);
    const node = ipv6Node();
    const got = orderChanges([...planBridges(node.links, want), ...planGateways({ node, routers: [] }, want)]).map(describeChange);
    for (const [dev, ns] of [['vxb100', ''], ['vxg100', ''], ['vxo100', ''], ['gw0', '[vxmr-n1-100] '], ['up0', '[vxmr-n1-100] ']] as const) {
      expect(at(got, `${ns}ip link set ${dev} addrgenmode none`), dev).toBeLessThan(at(got, `${ns}ip link set ${dev} up`));
    }
  });

  it('a tunnel device of either mode is silenced before it comes up', () => {
    const links = ipv6Node().links;
    const kernel = planVxlans(links, intent([net(100)])).changes.map(describeChange);
    expect(at(kernel, 'ip link set vxl100 addrgenmode none')).toBeLessThan(at(kernel, 'ip link set vxl100 up'));
    const bpf = planDevices(links, intent([net(100)])).map((s) => s.argv.join(' '));
    expect(at(bpf, 'ip link set vxe0 addrgenmode none')).toBeLessThan(at(bpf, 'ip link set vxe0 up'));
  });

  it('a converged gateway whose devices have link-local addresses (made before this rule, or by hand) loses them, and nothing else changes', () => {
    const n = net(100);
    const obs = convergedGateway(n);
    obs.node.links.push(link('lo', { ipv6Addrs: ['::1/128'] }));
    for (const l of [...obs.node.links, ...obs.routers[0]!.links]) if (/^(vxb|vxg|vxo|gw0|up0)/.test(l.name)) l.ipv6Addrs = [LL];
    const want1 = intent([n]);
    const got = [...planBridges(obs.node.links, want1), ...planGateways(obs, want1)].map(describeChange).sort();
    const want = ['vxb100', 'vxg100', 'vxo100'].flatMap((d) => [`ip link set ${d} addrgenmode none`, `ip addr del ${LL} dev ${d}`])
      .concat(['gw0', 'up0'].flatMap((d) => [`[vxmr-n1-100] ip link set ${d} addrgenmode none`, `[vxmr-n1-100] ip addr del ${LL} dev ${d}`]));
    expect(got).toEqual(want.sort());
    // once silent, a converged node plans nothing
    for (const l of [...obs.node.links, ...obs.routers[0]!.links]) if (l.name !== 'lo') l.ipv6Addrs = [];
    expect([...planBridges(obs.node.links, want1), ...planGateways(obs, want1)]).toEqual([]);
  });

  it('plans nothing IPv6 where the namespace has no IPv6 (no address anywhere: a kernel without it)', () => {
    const want = intent([net(100)]);
    const got = [...planBridges([], want), ...planGateways({ node: emptyNode(), routers: [] }, want), ...planVxlans([], want).changes].map(describeChange);
    expect(got.filter((l) => l.includes('addrgenmode') || l.includes('addr del'))).toEqual([]);
    expect(ipv6Silence('vxb100', undefined, false)).toEqual([]);
  });

  it('an existing device that is down is silenced before the plan brings it up (it had no address while down)', () => {
    expect(ipv6Silence('vxb100', link('vxb100', { up: false }), true, true)).toEqual([['link', 'set', 'vxb100', 'addrgenmode', 'none']]);
    expect(ipv6Silence('vxb100', link('vxb100'), true)).toEqual([]);
  });
});
