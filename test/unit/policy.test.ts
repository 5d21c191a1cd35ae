import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { buildSnapshot } from '../../src/sources/validate.js';
import { parseStore, storeText } from '../../src/sources/policy-store.js';
import { computeIntent } from '../../src/intent/compute.js';
import { groupRegions } from '../../src/intent/regions.js';
import { cidrRange, rangeToPrefixes, subtractRanges } from '../../src/intent/ranges.js';
import { intToIp, ipToInt } from '../../src/util/ipv4.js';
import { policyTableSpec } from '../../src/dataplane/kernel/policy.js';
import { planPolicyTable, policyTableDrift, renderPolicyTable } from '../../src/dataplane/kernel/policy-plan.js';
import { parseRuleset } from '../../src/dataplane/netlink/nft.js';
import { asObservedPolicy } from '../helpers/kernel-fixtures.js';
import type { LinkInfo } from '../../src/dataplane/netlink/link.js';
import { policyTables } from '../../src/dataplane/bpf/policy.js';
import { decode } from '../../src/dataplane/bpf/abi.js';
import type { PolicyGroup } from '../../src/intent/policy-types.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const yamlDocs = (file: string) => YAML.parseAllDocuments(readFileSync(path.join(ROOT, file), 'utf8')).map((d) => d.toJS() as Record<string, any>);

/** The demo lab's objects (vm-a1 web, vm-a3 client) with fixed allocations, plus the policy fixture. */
function world(extra: Record<string, any>[] = []) {
  const docs = yamlDocs('examples/lab.yaml').filter((d) => d.kind !== 'Lab');
  const vmi = (n: string) => docs.find((d) => d.kind === 'VirtualMachineInstance' && d.metadata.name === n)!;
  vmi('vm-a1').metadata.labels = { role: 'web' };
  vmi('vm-a3').metadata.labels = { role: 'client' };
  vmi('vm-a2').metadata.labels = {};
  const alloc = (vm: string, ip: string, network = 'tenant-a/blue', ns = 'tenant-a') => ({
    apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanIPAllocation', metadata: { name: `${vm}.nic1`, namespace: ns },
    spec: { network, vm, interface: 'nic1', ip },
  });
  for (const [i, node] of ['node1', 'node2', 'node3'].entries()) {
    docs.push({ apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanStatus', metadata: { name: `overlay.${node}` }, status: { clusterNetwork: 'overlay', node, vtepIP: `198.18.0.1${i + 1}`, ready: true } });
  }
  docs.push(alloc('vm-a1', '10.10.0.10'), alloc('vm-a2', '10.10.0.11'), alloc('vm-a3', '10.10.0.12'), alloc('vm-b1', '10.10.0.10', 'tenant-b/red', 'tenant-b'));
  return [...docs, ...yamlDocs('test/fixtures/policies.yaml'), ...extra];
}
const intentOf = (docs: unknown[], node = 'node1') => {
  const b = buildSnapshot(docs);
  expect(b.errors.map((e) => e.message)).toEqual([]);
  return computeIntent(b.snapshot, node);
};
const policy = (name: string, spec: Record<string, unknown>, forNets = 'blue') => ({
  apiVersion: 'k8s.cni.cncf.io/v1beta1', kind: 'MultiNetworkPolicy',
  metadata: { name, namespace: 'tenant-a', annotations: { 'k8s.v1.cni.cncf.io/policy-for': forNets } }, spec,
});

describe('MultiNetworkPolicy validation', () => {
  const errorOf = (spec: Record<string, unknown>) => buildSnapshot([policy('p', spec)]).errors.map((e) => e.message);

  it('names the object and the field of every invalid value', () => {
    expect(errorOf({ ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/33' } }] }] })).toEqual(['MultiNetworkPolicy tenant-a/p: spec.ingress[0].from[0].ipBlock.cidr must be an IPv4 CIDR like 10.0.0.0/24']);
    expect(errorOf({ ingress: [{ ports: [{ protocol: 'ICMP' }] }] })).toEqual(['MultiNetworkPolicy tenant-a/p: spec.ingress[0].ports[0].protocol must be TCP, UDP or SCTP']);
    expect(errorOf({ egress: [{ ports: [{ port: 90, endPort: 80 }] }] })).toEqual(['MultiNetworkPolicy tenant-a/p: spec.egress[0].ports[0].endPort 80 is less than port 90']);
    expect(errorOf({ egress: [{ ports: [{ port: 'http' }] }] })).toEqual(['MultiNetworkPolicy tenant-a/p: spec.egress[0].ports[0].port must be a port number (named ports are not supported)']);
    expect(errorOf({ egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['11.0.0.0/16'] } }] }] })).toEqual(['MultiNetworkPolicy tenant-a/p: spec.egress[0].to[0].ipBlock.except[0] 11.0.0.0/16 is not inside cidr 10.0.0.0/8']);
    expect(buildSnapshot([{ ...policy('p', {}), metadata: { name: 'p', namespace: 'tenant-a' } }]).errors[0]!.message).toMatch(/^MultiNetworkPolicy tenant-a\/p: metadata\.annotations\.k8s\.v1\.cni\.cncf\.io\/policy-for is required/);
  });

  it('keeps serving the last good version of a policy that became invalid', () => {
    const good = policy('p', { ingress: [{ ports: [{ port: 80 }] }] });
    const first = buildSnapshot([good]);
    const second = buildSnapshot([policy('p', { ingress: [{ ports: [{ port: 90, endPort: 10 }] }] })], first.lastGood);
    expect(second.errors).toHaveLength(1);
    expect(second.snapshot.policies).toHaveLength(1);
    expect(second.snapshot.policies[0]!.spec.ingress![0]!.ports![0]!.port).toBe(80);
  });
});

describe('an invalid policy fails closed', () => {
  const blueOf = (docs: unknown[]) => computeIntent(buildSnapshot(docs).snapshot, 'node1').clusterNetworks[0]!.networks.find((n) => n.key === 'tenant-a/blue')!;
  const base = () => world().filter((d) => d.kind !== 'MultiNetworkPolicy');
  const denyAll = (blue: ReturnType<typeof blueOf>) => blue.policy!.endpoints.map((e) => [e.vm, blue.policy!.groups.find((g) => g.id === e.ingress)?.rules.length, blue.policy!.groups.find((g) => g.id === e.egress)?.rules.length]);

  it('denies all to the VMs its selector selects, in its directions, when it has no last good version', () => {
    const bad = policy('bad', { podSelector: { matchLabels: { role: 'web' } }, policyTypes: ['Ingress'], ingress: [{ ports: [{ port: 90, endPort: 10 }] }] });
    const b = buildSnapshot([...base(), bad]);
    expect(b.errors.map((e) => e.message)).toEqual(['MultiNetworkPolicy tenant-a/bad: spec.ingress[0].ports[0].endPort 10 is less than port 90']);
    expect(denyAll(blueOf([...base(), bad]))).toEqual([['tenant-a/vm-a1', 0, undefined]]);
    expect(b.lastGood.has('MultiNetworkPolicy/tenant-a/bad')).toBe(false); // the stand-in is never a last good version
  });

  it('closes every VM of its namespace on the named networks when its selector does not parse, both directions when policyTypes does not', () => {
    const bad = policy('bad', { podSelector: { matchLabels: 'web' }, policyTypes: ['Sideways'] });
    expect(denyAll(blueOf([...base(), bad]))).toEqual([['tenant-a/vm-a1', 0, 0], ['tenant-a/vm-a2', 0, 0], ['tenant-a/vm-a3', 0, 0]]);
    const red = computeIntent(buildSnapshot([...base(), bad]).snapshot, 'node1').clusterNetworks[0]!.networks.find((n) => n.key === 'tenant-b/red')!;
    expect(red.policy).toBeUndefined(); // another namespace's VMs are never selected
  });

  it('applies on every network of its namespace\'s VMs when policy-for does not parse', () => {
    const bad = { ...policy('bad', { podSelector: { matchLabels: { role: 'web' } } }), metadata: { name: 'bad', namespace: 'tenant-a', annotations: { 'k8s.v1.cni.cncf.io/policy-for': 'Blue!' } } };
    expect(denyAll(blueOf([...base(), bad]))).toEqual([['tenant-a/vm-a1', 0, undefined]]);
  });

  it('keeps enforcing the last good version when there is one, also after a restart (stored and loaded)', () => {
    const good = policy('p', { podSelector: { matchLabels: { role: 'web' } }, ingress: [{ ports: [{ port: 80 }] }] });
    const first = buildSnapshot([...base(), good]);
    const stored = parseStore(storeText(first.lastGood));
    expect(stored.problems).toEqual([]);
    expect([...stored.lastGood.keys()]).toEqual(['MultiNetworkPolicy/tenant-a/p']);
    const bad = policy('p', { podSelector: { matchLabels: { role: 'web' } }, ingress: [{ ports: [{ port: 90, endPort: 10 }] }] });
    const after = buildSnapshot([...base(), bad], stored.lastGood);
    expect(after.snapshot.policies[0]!.spec.ingress![0]!.ports![0]!.port).toBe(80);
    expect(parseStore('{"version":1,"policies":{"MultiNetworkPolicy/x/y":{"kind":"nope"}}}').problems).toEqual(['MultiNetworkPolicy/x/y: not a valid MultiNetworkPolicy']);
  });
});

describe('policy compilation', () => {
  it('selects VMs by label on the networks named by policy-for, with one group per selecting set', () => {
    const intent = intentOf(world());
    const blue = intent.clusterNetworks[0]!.networks.find((n) => n.key === 'tenant-a/blue')!;
    const red = intent.clusterNetworks[0]!.networks.find((n) => n.key === 'tenant-b/red')!;
    expect(red.policy).toBeUndefined();
    expect(blue.policy!.endpoints).toEqual([{ vm: 'tenant-a/vm-a1', iface: 'nic1', mac: '02:00:0a:00:01:01', ip: '10.10.0.10', local: true, ingress: 1, egress: 2 }]);
    const [ing, eg] = blue.policy!.groups;
    expect(ing).toMatchObject({ id: 1, direction: 'ingress', vni: 100, policies: ['tenant-a/web'] });
    // rule 0: from role=client (vm-a3) on TCP 7 and UDP 5000-5010; rule 1: the ipBlock minus except, every port.
    expect(ing!.rules.map((r) => [r.peers.map((p) => `${intToIp(p.from)}-${intToIp(p.to)}`), r.ports])).toEqual([
      [['10.10.0.12-10.10.0.12'], [{ protocol: 'tcp', from: 7, to: 7 }, { protocol: 'udp', from: 5000, to: 5010 }]],
      [['10.10.0.16-10.10.0.127'], undefined],
    ]);
    expect(eg!.rules[0]!.peers.map((p) => `${intToIp(p.from)}-${intToIp(p.to)}`)).toEqual(['198.18.0.0-198.18.0.253', '198.18.0.255-198.18.0.255']);
  });

  it('programs every selected endpoint of the network, also those running elsewhere (migration safety)', () => {
    const intent = intentOf(world(), 'node2');
    const blue = intent.clusterNetworks[0]!.networks.find((n) => n.key === 'tenant-a/blue')!;
    expect(blue.policy!.endpoints.map((e) => [e.vm, e.local])).toEqual([['tenant-a/vm-a1', false]]);
  });

  it('defaults policyTypes to Ingress (plus Egress with an egress section) and selects peers by namespace labels', () => {
    const p = policy('ns', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { tenant: 'a' } } }] }] });
    const blue = intentOf([...world().filter((d) => d.kind !== 'MultiNetworkPolicy'), p]).clusterNetworks[0]!.networks.find((n) => n.key === 'tenant-a/blue')!;
    expect(blue.policy!.endpoints.map((e) => [e.vm, e.ingress, e.egress])).toEqual([
      ['tenant-a/vm-a1', 1, undefined], ['tenant-a/vm-a2', 1, undefined], ['tenant-a/vm-a3', 1, undefined],
    ]);
    expect(blue.policy!.groups[0]!.rules[0]!.peers.map((r) => `${intToIp(r.from)}-${intToIp(r.to)}`)).toEqual(['10.10.0.10-10.10.0.12']);
  });
});

describe('policy ranges and regions', () => {
  it('turns a cidr minus excepts into ranges and ranges into the fewest prefixes', () => {
    const r = subtractRanges([cidrRange('10.0.0.0/24')], [cidrRange('10.0.0.128/26')]);
    expect(r.map((x) => `${intToIp(x.from)}-${intToIp(x.to)}`)).toEqual(['10.0.0.0-10.0.0.127', '10.0.0.192-10.0.0.255']);
    expect(rangeToPrefixes({ from: ipToInt('10.0.0.1'), to: ipToInt('10.0.0.6') }).map((p) => `${intToIp(p.network)}/${p.prefixLen}`)).toEqual(['10.0.0.1/32', '10.0.0.2/31', '10.0.0.4/31', '10.0.0.6/32']);
    expect(rangeToPrefixes({ from: 0, to: 0xffffffff })).toEqual([{ network: 0, prefixLen: 0 }]);
  });

  it('splits overlapping rules into disjoint regions carrying the union of their ports', () => {
    const g: PolicyGroup = {
      id: 1, direction: 'ingress', vni: 1, policies: ['a/p'],
      rules: [
        { policy: 'a/p', index: 0, peers: [cidrRange('10.0.0.0/24')], ports: [{ protocol: 'tcp', from: 80, to: 90 }] },
        { policy: 'a/p', index: 1, peers: [{ from: ipToInt('10.0.0.5'), to: ipToInt('10.0.0.5') }], ports: [{ protocol: 'tcp', from: 85, to: 100 }] },
        { policy: 'a/p', index: 2, peers: [{ from: ipToInt('10.0.0.9'), to: ipToInt('10.0.0.9') }] },
      ],
    };
    expect(groupRegions(g).map((r) => [intToIp(r.from), intToIp(r.to), r.any, r.ports.map((p) => `${p.protocol}:${p.from}-${p.to}`)])).toEqual([
      ['10.0.0.0', '10.0.0.4', false, ['tcp:80-90']],
      ['10.0.0.5', '10.0.0.5', false, ['tcp:80-100']],
      ['10.0.0.6', '10.0.0.8', false, ['tcp:80-90']],
      ['10.0.0.9', '10.0.0.9', true, []],
      ['10.0.0.10', '10.0.0.255', false, ['tcp:80-90']],
    ]);
  });
});

describe('kernel mode: the bridge vxmesh_policy table', () => {
  const link = (name: string, master: string): LinkInfo => ({ name, ifindex: 1, master, up: true, mtu: 1500, addrs: [] });
  const links = [link('vxmva1', 'vxb100'), link('vxg100', 'vxb100'), link('vxl100', 'vxb100'), link('vxmvb1', 'vxb200'), link('vxg200', 'vxb200')];
  const text = (docs = world()) => renderPolicyTable(policyTableSpec(intentOf(docs), links)!).join('\n');
  const asObserved = (docs = world()) => asObservedPolicy(policyTableSpec(intentOf(docs), links)!);

  it('dispatches by output port to one chain per network, and by MAC to one chain per group with interval sets', () => {
    const body = text();
    expect(body).toContain('map ports { type ifname : verdict; elements = { "vxg100" : goto n100, "vxg200" : goto n200, "vxl100" : goto n100, "vxl200" : goto n200, "vxmva1" : goto n100, "vxmvb1" : goto n200 }; }');
    expect(body).toContain('map n100_to_vm { type ether_addr : verdict; elements = { 02:00:0a:00:01:01 : jump g1 }; }');
    expect(body).toContain('set g1_l4 { type ipv4_addr . inet_proto . inet_service; flags interval; elements = { 10.10.0.12 . tcp . 7, 10.10.0.12 . udp . 5000-5010 }; }');
    expect(body).toContain('set g1_any { type ipv4_addr; flags interval; elements = { 10.10.0.16-10.10.0.127 }; }');
    expect(body).toContain('set g2_l4 { type ipv4_addr . inet_proto . inet_service; flags interval; elements = { 198.18.0.0-198.18.0.253 . tcp . 8080, 198.18.0.255 . tcp . 8080 }; }');
  });

  it('guards VM ports of every network, with or without policies: no unicast in broadcast, client DHCP only', () => {
    const body = text(world().filter((d) => d.kind !== 'MultiNetworkPolicy'));
    expect(body).toContain('ether daddr & 01:00:00:00:00:00 == 01:00:00:00:00:00 ip daddr != { 255.255.255.255, 224.0.0.0/4, 10.10.0.255 } counter drop');
    expect(body).toContain('udp sport 67 counter drop');
    expect(body).toContain('udp dport 67 ip daddr { 255.255.255.255, 10.10.0.1, 10.10.0.255 } jump n100_dhcp');
    expect(body).toContain('@th,288,48 @n100_known ether saddr . @th,288,48 != @n100_chaddr counter drop');
    expect(body).toContain('set n100_chaddr { typeof ether saddr . @th,288,48; elements = { 02:00:0a:00:01:01 . 2199191027969, 02:00:0a:00:01:02 . 2199191027970, 02:00:0a:00:01:03 . 2199191027971 }; }');
    expect(body).toContain('iifname != "vxg200" jump n200_guard');
    expect(body).not.toContain('flows');
  });

  it('keys everything by network: equal MACs in two tenants get their own maps, flow sets and shares', () => {
    // tenant-b/red gets a VM with vm-a1's MAC and a deny-all policy of its own
    const docs = world();
    const b1 = docs.find((d) => d.kind === 'VirtualMachineInstance' && d.metadata.name === 'vm-b1')!;
    b1.spec.domain.devices.interfaces[0].macAddress = '02:00:0a:00:01:01';
    docs.push({ ...policy('deny', { podSelector: {} }, 'tenant-b/red'), metadata: { name: 'deny', namespace: 'tenant-b', annotations: { 'k8s.v1.cni.cncf.io/policy-for': 'red' } } });
    const spec = policyTableSpec(intentOf(docs), links)!;
    const el = (name: string) => spec.sets.find((x) => x.name === name)!.elements;
    expect(el('n100_to_vm')).toEqual(['02:00:0a:00:01:01 : jump g1']);
    expect(el('n200_to_vm')).toEqual(['02:00:0a:00:01:01 : jump g3']);
    expect(spec.flowSets.map((f) => f.name)).toEqual(['n100_flows', 'n100_iflows', 'n200_flows', 'n200_iflows']);
    expect(spec.flowSets[0]!.decl).toContain('size 16384');
    expect(el('guarded')).toEqual(['02:00:0a:00:01:01']);
  });

  it('finds drift by content: a flushed chain, a flushed set, an edited rule, a missing map; never the flow sets\' elements', () => {
    const intent = intentOf(world());
    const ok = asObserved();
    expect(policyTableDrift(ok, policyTableSpec(intent, links)!)).toBeUndefined();
    expect(planPolicyTable(ok, intent, links)).toEqual([]);
    const flows = structuredClone(ok);
    flows.sets.find((x) => x.name === 'n100_flows')!.elements.push('10.0.0.1 . 10.0.0.2 . tcp . 1 . 2');
    expect(planPolicyTable(flows, intent, links)).toEqual([]);
    const flushedChain = structuredClone(ok);
    flushedChain.chains.find((c) => c.name === 'g1')!.rules = [];
    expect(planPolicyTable(flushedChain, intent, links)[0]!.reason).toBe('chain g1 rules differ');
    const flushedSet = structuredClone(ok);
    flushedSet.sets.find((x) => x.name === 'g1_l4')!.elements = [];
    expect(planPolicyTable(flushedSet, intent, links)[0]!.reason).toBe('set g1_l4 elements differ');
    const noMap = structuredClone(ok);
    noMap.maps = noMap.maps!.filter((m) => m.name !== 'n100_to_vm');
    const [c] = planPolicyTable(noMap, intent, links);
    expect(c!.reason).toBe('map n100_to_vm missing');
    expect(c!.args[0]).not.toContain('delete map bridge vxmesh_policy n100_to_vm');
    expect(c!.args[0]).toContain('delete set bridge vxmesh_policy g1_l4');
    expect(c!.args[0]).not.toContain('delete set bridge vxmesh_policy n100_flows');
    expect(c!.args[0]).toContain('add set bridge vxmesh_policy n100_flows');
  });

  it('reads nft -j elements back in the form it renders them (ranges, prefixes, concatenations, verdicts)', () => {
    const json = { nftables: [
      { table: { family: 'bridge', name: 'vxmesh_policy' } },
      { set: { family: 'bridge', table: 'vxmesh_policy', name: 'g1_l4', type: ['ipv4_addr'], elem: [{ concat: [{ prefix: { addr: '10.10.0.0', len: 24 } }, 'tcp', { range: [80, 90] }] }, { concat: ['10.10.0.7', 'udp', 53] }] } },
      { set: { family: 'bridge', table: 'vxmesh_policy', name: 'g1_any', type: 'ipv4_addr', elem: [{ range: ['10.10.2.1', '10.10.2.6'] }] } },
      { set: { family: 'bridge', table: 'vxmesh_policy', name: 'n100_chaddr', type: ['ether_addr', 'integer'], elem: [{ concat: ['02:00:0a:00:01:01', 2199191027969] }] } },
      { set: { family: 'bridge', table: 'vxmesh_policy', name: 'n100_flows', type: 'x', elem: [{ elem: { val: { concat: ['10.0.0.1', '10.0.0.2', 'tcp', 1, 2] }, expires: 119 } }] } },
      { map: { family: 'bridge', table: 'vxmesh_policy', name: 'ports', type: 'ifname', map: 'verdict', elem: [['vxg100', { goto: { target: 'n100' } }]] } },
    ] };
    const [t] = parseRuleset(json);
    expect(t!.sets.map((x) => x.elements)).toEqual([
      ['10.10.0.0-10.10.0.255 . tcp . 80-90', '10.10.0.7 . udp . 53'], ['10.10.2.1-10.10.2.6'], ['02:00:0a:00:01:01 . 2199191027969'], ['10.0.0.1 . 10.0.0.2 . tcp . 1 . 2'],
    ]);
    expect(t!.maps).toEqual([{ name: 'ports', elements: ['vxg100 : goto n100'] }]);
  });

  it('leaves out, and reports, a network whose values cannot be rendered; the others are programmed', () => {
    const intent = intentOf(world());
    const bad = structuredClone(intent);
    bad.clusterNetworks[0]!.networks[0]!.gateway = '10.10.0.999';
    const errors: Array<{ vni?: number; message: string }> = [];
    const spec = policyTableSpec(bad, links, errors)!;
    expect(errors).toEqual([{ network: 'tenant-a/blue', vni: 100, message: 'policy table: gateway 10.10.0.999 is not an IPv4 address; the network is left out' }]);
    expect(spec.chains.map((c) => c.name)).toContain('n200');
    expect(spec.chains.map((c) => c.name)).not.toContain('n100');
  });

  it('deletes the table on a node without networks', () => {
    const intent = intentOf(world());
    expect(planPolicyTable(asObserved(), { ...intent, clusterNetworks: [] }, links).map((x) => x.args[0])).toEqual(['delete table bridge vxmesh_policy']);
  });
});

describe('bpf mode: the policy maps', () => {
  it('fills LPM entries per group region, leaving ipBlock excepts as holes', () => {
    const errors: Array<{ message: string }> = [];
    const { tables, enabled } = policyTables(intentOf(world()), errors);
    expect(enabled).toBe(true);
    expect(errors).toEqual([]);
    expect(tables.vxm_pol_eps.size).toBe(1);
    const entries = [...tables.vxm_pol_rules].map(([k, v]) => {
      const key = decode<{ prefixlen: number; group: number; addr: number[] }>('vxm_pol_key', Buffer.from(k, 'hex'));
      const val = decode<{ flags: number; count: number }>('vxm_pol_value', Buffer.from(v, 'hex'));
      return `g${key.group} ${key.addr.join('.')}/${key.prefixlen - 32} ${val.flags ? 'any' : `${val.count} ranges`}`;
    });
    expect(entries.filter((e) => e.startsWith('g2'))).toEqual([
      'g2 198.18.0.0/25 1 ranges', 'g2 198.18.0.128/26 1 ranges', 'g2 198.18.0.192/27 1 ranges', 'g2 198.18.0.224/28 1 ranges',
      'g2 198.18.0.240/29 1 ranges', 'g2 198.18.0.248/30 1 ranges', 'g2 198.18.0.252/31 1 ranges', 'g2 198.18.0.255/32 1 ranges',
    ]);
    expect(entries.filter((e) => e.startsWith('g1'))).toEqual(['g1 10.10.0.12/32 2 ranges', 'g1 10.10.0.16/28 any', 'g1 10.10.0.32/27 any', 'g1 10.10.0.64/26 any']);
  });
});
