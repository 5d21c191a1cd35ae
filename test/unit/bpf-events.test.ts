import { describe, expect, it } from 'vitest';
import { encode, ipHost, macBytes, ipBytes, VERDICTS, REASONS, MISSES } from '../../src/dataplane/bpf/abi.js';
import { EventFolder, decodeEvent, formatEvent, formatFolded, reasonText, type EventNames } from '../../src/dataplane/bpf/events.js';
import { concernsVm, eventNames } from '../../src/dataplane/bpf/monitor.js';
import type { Snapshot } from '../../src/model/schema.js';
import { emptySnapshot } from '../../src/model/schema.js';

const A1 = '52:54:00:00:00:11';
const A3 = '52:54:00:00:00:13';

/** A vxm_events record as vxm_emit writes it (vxm_abi.h struct vxm_event). */
function record(o: Partial<{ hook: number; ifindex: number; vni: number; verdict: string; reason: string; miss: string; detail: number; group: number; direction: number; outerSrc: string; outerDst: string; src: string; dst: string; ethertype: number; proto: number; saddr: string; daddr: string; sport: number; dport: number }>): Buffer {
  const be16 = (n: number) => [n >> 8, n & 0xff];
  return encode('vxm_event', {
    time_ns: 12_345_000_000n, hook: o.hook ?? 1, ifindex: o.ifindex ?? 7, vni: o.vni ?? 100, verdict: VERDICTS.indexOf((o.verdict ?? 'dropped-spoof') as never),
    reason: o.reason ? REASONS.indexOf(o.reason as never) : 0, miss: MISSES.indexOf((o.miss ?? 'none') as never), detail: o.detail ?? 0, group: o.group ?? 0,
    outer_src: o.outerSrc ? ipHost(o.outerSrc) : 0, outer_dst: o.outerDst ? ipHost(o.outerDst) : 0,
    dst_mac: macBytes(o.dst ?? A3), src_mac: macBytes(o.src ?? A1), ethertype: be16(o.ethertype ?? 0x0800), direction: o.direction ?? 0, l4_proto: o.proto ?? 17,
    saddr: ipBytes(o.saddr ?? '10.10.0.11'), daddr: ipBytes(o.daddr ?? '10.10.0.13'), sport: be16(o.sport ?? 4000), dport: be16(o.dport ?? 5001), len: 60,
  });
}

const snapshot: Snapshot = {
  ...emptySnapshot(),
  vxlanNetworks: [{ apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanNetwork', metadata: { namespace: 'tenant-a', name: 'net' }, spec: { clusterNetwork: 'overlay', vni: 100, cidr: '10.10.0.0/24' } } as never],
  allocations: [
    { apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanIPAllocation', metadata: { namespace: 'tenant-a', name: 'x' }, spec: { network: 'tenant-a/net', vm: 'vm-a1', interface: 'nic1', ip: '10.10.0.11' } } as never,
    { apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanIPAllocation', metadata: { namespace: 'tenant-a', name: 'y' }, spec: { network: 'tenant-a/net', vm: 'vm-a3', interface: 'nic1', ip: '10.10.0.13' } } as never,
  ],
  statuses: [{ status: { clusterNetwork: 'overlay', node: 'node2', vtepIP: '198.18.0.12' } } as never],
};
const names: EventNames = eventNames(
  [{ ifindex: 7, name: 'vxmc1234', alias: 'vxmesh/tenant-a/vm-a1/nic1' } as never, { ifindex: 9, name: 'vxmc9999' } as never],
  new Map([[3, 'tenant-a/web-only']]), snapshot,
);

describe('vxm_events records', () => {
  it('decode into typed events: verdict, reason, what missed, inner and outer headers', () => {
    const e = decodeEvent(record({ verdict: 'dropped-unknown-vtep', hook: 2, reason: 'unknown-vtep', outerSrc: '198.18.0.99', outerDst: '198.18.0.11', proto: 6, dport: 22 }));
    expect(e).toMatchObject({
      hook: 'vxm_from_tunnel', ifindex: 7, vni: 100, verdict: 'dropped-unknown-vtep', drop: true, reason: 'unknown-vtep',
      outerSrc: '198.18.0.99', outerDst: '198.18.0.11', srcMac: A1, dstMac: A3, saddr: '10.10.0.11', daddr: '10.10.0.13', proto: 'tcp', sport: 4000, dport: 22,
    });
    expect(e.timeNs).toBe(12_345_000_000n);
    expect(decodeEvent(record({ verdict: 'forwarded-local' })).drop).toBe(false);
    expect(decodeEvent(record({ ethertype: 0x0806, sport: 1 }))).toMatchObject({ arpOp: 1, saddr: '10.10.0.11' });
    expect(() => decodeEvent(Buffer.alloc(64))).toThrow(/64 bytes/);
  });

  it('say each reason in words with the names the node knows', () => {
    const say = (o: Parameters<typeof record>[0]) => reasonText(decodeEvent(record(o)), names);
    expect(say({ reason: 'spoof-mac', miss: 'other-port', src: A3, detail: 9 })).toBe(
      `dropped: source MAC ${A3} is not the VM's (port vxmc1234 is bound to tenant-a/vm-a1 nic1; the MAC's NIC is on vxmc9999)`);
    expect(say({ reason: 'spoof-mac', miss: 'no-endpoint' })).toContain('is no VM NIC of tenant-a/net (VNI 100)');
    expect(say({ reason: 'spoof-ip', miss: 'other-mac', saddr: '10.10.0.13' })).toBe(
      'dropped: source IP 10.10.0.13 is not the VM\'s, it is tenant-a/vm-a3\'s (port vxmc1234 is bound to tenant-a/vm-a1 nic1)');
    expect(say({ reason: 'spoof-ip', miss: 'no-arp', saddr: '10.10.0.99' })).toContain('source IP 10.10.0.99 is no address of tenant-a/net');
    expect(say({ verdict: 'dropped-unknown-vtep', hook: 2, reason: 'unknown-vtep', outerSrc: '198.18.0.99' })).toBe(
      'dropped: VTEP 198.18.0.99 is not a member of cluster network overlay');
    expect(say({ verdict: 'dropped-unknown-vtep', hook: 2, vni: 0, detail: 4242, reason: 'unknown-vni', outerSrc: '198.18.0.12' })).toBe(
      'dropped: VNI 4242 is no network of this node (from VTEP 198.18.0.12 (node2))');
    expect(say({ verdict: 'dropped-policy', reason: 'policy', group: 3, direction: 0, miss: 'no-port', proto: 6, dport: 22 })).toBe(
      'dropped: policy group 3 (tenant-a/web-only), ingress of 10.10.0.13, has no rule allowing tcp/22');
    expect(say({ verdict: 'dropped-policy', reason: 'policy', group: 3, direction: 1, miss: 'no-rule' })).toContain('egress of 10.10.0.11, has no rule for peer 10.10.0.13');
    expect(say({ verdict: 'dropped-unbound', reason: 'unbound', ifindex: 9 })).toBe('dropped: port vxmc9999 has no valid binding to a VM NIC of this node (alias none)');
    expect(say({ verdict: 'dropped-malformed', reason: 'vlan', miss: 'vlan-stripped' })).toContain('VLAN-tagged (the kernel moved the tag');
    expect(say({ verdict: 'dropped-ipv6', reason: 'ipv6', ethertype: 0x86dd })).toContain('IPv6');
    expect(say({ verdict: 'forwarded-tunnel', outerDst: '198.18.0.12' })).toBe('forwarded through the tunnel to VTEP 198.18.0.12 (node2)');
    // every reason the programs have has words (no fallback to the bare verdict)
    for (const reason of REASONS.filter(Boolean)) expect(say({ reason }), reason).not.toMatch(/^dropped: dropped-/);
  });

  it('prints one line with time, hook, port and VM, network, sender → receiver and flow', () => {
    const line = formatEvent(decodeEvent(record({ verdict: 'dropped-policy', reason: 'policy', group: 3, miss: 'no-port', proto: 6, dport: 22 })), names);
    expect(line).toBe('12.345 vxm_from_vm vxmc1234 (tenant-a/vm-a1/nic1) tenant-a/net (VNI 100) tenant-a/vm-a1 → tenant-a/vm-a3 tcp/22 dropped: policy group 3 (tenant-a/web-only), ingress of 10.10.0.13, has no rule allowing tcp/22');
  });

  it('folds repeats: the first is shown, the rest counted per window, different flows apart', () => {
    const f = new EventFolder();
    const deny = decodeEvent(record({ verdict: 'dropped-policy', reason: 'policy', group: 3, miss: 'no-port', proto: 6, dport: 22 }));
    const other = decodeEvent(record({ verdict: 'dropped-policy', reason: 'policy', group: 3, miss: 'no-port', proto: 6, dport: 23 }));
    expect([f.add(deny, 0), f.add(other, 1), ...Array.from({ length: 37 }, (_, i) => f.add(deny, 2 + i))]).toEqual([true, true, ...Array(37).fill(false)]);
    const folds = f.flush();
    expect(folds.map((x) => x.count)).toEqual([37]);
    expect(formatFolded(folds[0]!, names, 10_000)).toMatch(/tenant-a\/vm-a1 → tenant-a\/vm-a3 tcp\/22 dropped: policy group 3 .* ×37 more in 10 s$/);
    expect(f.flush()).toEqual([]);
    expect(f.add(deny, 100)).toBe(true); // a new window shows it again
  });

  it('filters by VM: its bound port, or its address as sender or receiver', () => {
    const e = decodeEvent(record({ ifindex: 9 }));
    expect([concernsVm(e, names, 'vm-a3'), concernsVm(e, names, 'tenant-a/vm-a1'), concernsVm(e, names, 'vm-b')]).toEqual([true, true, false]);
    expect(concernsVm(decodeEvent(record({})), names, 'vm-a1')).toBe(true); // its port
  });
});

describe('eventTime', () => {
  it('puts the kernel\'s monotonic time on the wall clock with the offset taken when the reader started', async () => {
    const { eventTime, monotonicToWallNs } = await import('../../src/dataplane/bpf/events.js');
    const e = { timeNs: 5_000_000_000n } as Parameters<typeof eventTime>[0];
    expect(eventTime(e)).toBe('5.000'); // no offset: monotonic seconds
    expect(eventTime(e, BigInt(Date.UTC(2026, 11, 2, 1, 2, 3, 456)) * 1_000_000n - 5_000_000_000n)).toBe('01:02:03.456');
    // An event of "now" (hrtime is the same clock as bpf_ktime_get_ns) lands within a second of Date.now().
    const now = { timeNs: process.hrtime.bigint() } as Parameters<typeof eventTime>[0];
    const wall = Number((now.timeNs + monotonicToWallNs()) / 1_000_000n);
    expect(Math.abs(wall - Date.now())).toBeLessThan(1000);
  });
});
