/**
 * Pure decisions behind "no error path deletes what works": the uplink plan (HEP layout, bond), the
 * status a held VTEP or an auto fallback publishes, which probe failures make bpf impossible, which
 * network a refused map entry belongs to, the test knobs.
 */
import { describe, expect, it } from 'vitest';
import { planUplink, uplinkAlias, type UplinkFacts, type UplinkLink } from '../../src/agent/uplink-plan.js';
import { parseUplinkLinks } from '../../src/agent/uplink.js';
import { statusObject } from '../../src/agent/status.js';
import { bpfImpossible, modeNote } from '../../src/agent/mode.js';
import { vniOfChange } from '../../src/dataplane/bpf/maps.js';
import { refusedErrors } from '../../src/dataplane/bpf/dataplane.js';
import { testMaxEntries } from '../../src/dataplane/bpf/loader.js';
import { computeIntent } from '../../src/intent/compute.js';
import { emptySnapshot } from '../../src/model/schema.js';
import type { NodeIntent } from '../../src/intent/types.js';

const link = (name: string, extra: Partial<UplinkLink> = {}): UplinkLink => ({ name, up: true, mtu: 1500, addrs: [], ...extra });
const facts = (links: UplinkLink[], bonding = true): UplinkFacts => ({ links, bonding: bonding ? { available: true } : { available: false, why: '/sys/class/net/bonding_masters missing and modprobe bonding failed: Module bonding not found' } });
const spec = (nics: string[], extra: object = {}) => ({ clusterNetwork: 'overlay', nics, ...extra });

describe('planUplink', () => {
  it('uses the single nic as it is, and only notes (never changes) an MTU that differs from linkAttributes', () => {
    const p = planUplink(spec(['eth1'], { mtu: 9000 }), facts([link('eth1', { addrs: ['198.18.0.11/24'] })]));
    expect(p).toMatchObject({ device: 'eth1', source: 'nic', steps: [] });
    expect(p.problem).toBeUndefined();
    expect(p.notes).toEqual(['uplink eth1 has MTU 1500, VxlanConfig linkAttributes.mtu is 9000: vxmesh does not change a device it does not own']);
  });

  it('reports a missing single nic as NicMissing', () => {
    expect(planUplink(spec(['eth9']), facts([link('eth1')])).problem).toEqual({ reason: 'NicMissing', message: 'uplink nic eth9 does not exist on this node' });
  });

  it("reuses Harvester's <cn>-br (bridge over <cn>-bo) and takes the VTEP from it, whatever the nics", () => {
    const p = planUplink(spec(['eth1', 'eth2']), facts([link('eth1', { master: 'overlay-bo' }), link('eth2', { master: 'overlay-bo' }), link('overlay-bo', { kind: 'bond', master: 'overlay-br' }), link('overlay-br', { kind: 'bridge', addrs: ['10.0.0.5/24'] })], false));
    expect(p).toMatchObject({ device: 'overlay-br', source: 'harvester-bridge', steps: [] });
    expect(p.problem).toBeUndefined();
  });

  it('reuses a <cn>-bo that vxmesh did not create, as it is', () => {
    const p = planUplink(spec(['eth1', 'eth2'], { bondOptions: { mode: '802.3ad' } }), facts([link('overlay-bo', { kind: 'bond', bond: { mode: 'active-backup' } })]));
    expect(p).toMatchObject({ device: 'overlay-bo', source: 'existing-bond', steps: [] });
  });

  it('creates bond <cn>-bo from free nics with bondOptions, MTU and link state, marked as vxmesh-owned', () => {
    const p = planUplink(spec(['eth1', 'eth2'], { mtu: 9000, bondOptions: { mode: '802.3ad', miimon: 100 } }), facts([link('eth1'), link('eth2', { up: false })]));
    expect(p.problem).toBeUndefined();
    expect(p.device).toBe('overlay-bo');
    expect(p.steps).toEqual([
      ['ip', 'link', 'add', 'overlay-bo', 'type', 'bond', 'mode', '802.3ad', 'miimon', '100'],
      ['ip', 'link', 'set', 'overlay-bo', 'alias', 'vxmesh-uplink/overlay'],
      ['ip', 'link', 'set', 'eth1', 'down'],
      ['ip', 'link', 'set', 'eth1', 'master', 'overlay-bo'],
      ['ip', 'link', 'set', 'eth2', 'master', 'overlay-bo'],
      ['ip', 'link', 'set', 'overlay-bo', 'mtu', '9000'],
      ['ip', 'link', 'set', 'overlay-bo', 'up'],
    ]);
  });

  it('defaults the bond mode to active-backup and does nothing more once its own bond is complete', () => {
    const own = link('overlay-bo', { kind: 'bond', alias: uplinkAlias('overlay'), bond: { mode: 'active-backup', miimon: 0 } });
    const p = planUplink(spec(['eth1', 'eth2']), facts([own, link('eth1', { master: 'overlay-bo' }), link('eth2', { master: 'overlay-bo' })]));
    expect(p).toMatchObject({ device: 'overlay-bo', source: 'vxmesh-bond', steps: [], notes: [] });
    const half = planUplink(spec(['eth1', 'eth2']), facts([own, link('eth1', { master: 'overlay-bo' }), link('eth2', { up: false })]));
    expect(half.steps).toEqual([['ip', 'link', 'set', 'eth2', 'master', 'overlay-bo']]);
  });

  it('recreates its own bond when bondOptions changed (mode cannot change under ports)', () => {
    const own = link('overlay-bo', { kind: 'bond', alias: uplinkAlias('overlay'), bond: { mode: 'active-backup', miimon: 0 } });
    const p = planUplink(spec(['eth1', 'eth2'], { bondOptions: { mode: 'balance-xor' } }), facts([own, link('eth1', { master: 'overlay-bo' }), link('eth2', { master: 'overlay-bo' })]));
    expect(p.steps.slice(0, 2)).toEqual([['ip', 'link', 'del', 'overlay-bo'], ['ip', 'link', 'add', 'overlay-bo', 'type', 'bond', 'mode', 'balance-xor']]);
    expect(p.steps).toContainEqual(['ip', 'link', 'set', 'eth1', 'master', 'overlay-bo']);
  });

  it('never takes a nic that carries an address or belongs to another device: NicInUse, no step', () => {
    const p = planUplink(spec(['eth1', 'eth2']), facts([link('eth1', { addrs: ['192.168.1.5/24'] }), link('eth2', { master: 'br0' })]));
    expect(p.steps).toEqual([]);
    expect(p.problem).toEqual({ reason: 'NicInUse', message: 'bond overlay-bo: vxmesh takes only free nics (no master, no address): eth1 carries 192.168.1.5/24; eth2 is a port of br0' });
  });

  it('reports BondingUnavailable with the reason on a node whose kernel cannot bond, and plans nothing', () => {
    const p = planUplink(spec(['eth1', 'eth2']), facts([link('eth1'), link('eth2')], false));
    expect(p.steps).toEqual([]);
    expect(p.problem).toEqual({
      reason: 'BondingUnavailable',
      message: 'uplink eth1,eth2 needs bond overlay-bo, but this node cannot bond: /sys/class/net/bonding_masters missing and modprobe bonding failed: Module bonding not found',
    });
  });

  it('reads bond attributes and global IPv4 addresses from ip -j -d addr show', () => {
    const links = parseUplinkLinks([
      { ifname: 'overlay-bo', flags: ['UP'], mtu: 9000, ifalias: 'vxmesh-uplink/overlay', linkinfo: { info_kind: 'bond', info_data: { mode: '802.3ad', miimon: 100 } },
        addr_info: [{ family: 'inet', local: '10.0.0.5', prefixlen: 24, scope: 'global' }, { family: 'inet', local: '127.0.0.9', prefixlen: 8, scope: 'host' }] },
      { ifname: 'eth1', master: 'overlay-bo', flags: [] },
    ]);
    expect(links).toEqual([
      { name: 'overlay-bo', kind: 'bond', up: true, mtu: 9000, addrs: ['10.0.0.5/24'], alias: 'vxmesh-uplink/overlay', bond: { mode: '802.3ad', miimon: 100 } },
      { name: 'eth1', kind: undefined, master: 'overlay-bo', up: false, mtu: 0, addrs: [] },
    ]);
  });

  it("puts the planned device in the intent's uplink (the tunnels' underlay device)", () => {
    const snap = emptySnapshot();
    snap.vxlanConfigs.push({
      apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanConfig', metadata: { name: 'c' },
      spec: { clusterNetwork: 'overlay', nodeSelector: {}, uplink: { nics: ['eth1', 'eth2'], linkAttributes: {} }, port: 4789, vtep: { addressFrom: 'uplink', addresses: {} } },
    } as never);
    expect(computeIntent(snap, 'n1', { vteps: { overlay: '10.0.0.5' }, uplinks: { overlay: 'overlay-br' } }).clusterNetworks[0]!.uplink).toBe('overlay-br');
    expect(computeIntent(snap, 'n1', { vteps: { overlay: '10.0.0.5' } }).clusterNetworks[0]!.uplink).toBe('overlay-bo');
  });
});

describe('status of a node that holds its VTEP or fell back to kernel mode', () => {
  const base = { node: 'n1', clusterNetwork: 'overlay', mode: 'kernel' as const, ready: false, message: 'x', at: new Date(0) };
  const cond = (s: ReturnType<typeof statusObject>, type: string) => s.status.conditions!.find((c) => c.type === type);

  it('keeps publishing the held VTEP, with VtepReady=False and the reason (BondingUnavailable)', () => {
    const s = statusObject({ ...base, vtepIP: '198.18.0.11', vtepProblem: 'this node cannot bond', vtepReason: 'BondingUnavailable' });
    expect(s.status.vtepIP).toBe('198.18.0.11');
    expect(cond(s, 'VtepReady')).toMatchObject({ status: 'False', reason: 'BondingUnavailable', message: 'this node cannot bond; holding the last VTEP 198.18.0.11' });
  });

  it('publishes an auto fallback as DataplaneMode=False FellBackToKernel with the probe reason', () => {
    const note = modeNote('auto', { dataplane: {} as never, mode: 'kernel', fallbackReason: 'kernel has no BTF (/sys/kernel/btf/vmlinux missing)' });
    expect(note).toBe('auto mode fell back to the kernel dataplane: kernel has no BTF (/sys/kernel/btf/vmlinux missing)');
    expect(cond(statusObject({ ...base, modeNote: note }), 'DataplaneMode')).toMatchObject({ status: 'False', reason: 'FellBackToKernel', message: note });
    expect(modeNote('kernel', { dataplane: {} as never, mode: 'kernel' })).toBeUndefined();
  });
});

describe('bpfImpossible', () => {
  it('tells a node that cannot run bpf at all from a probe failure a retry may cure', () => {
    expect(bpfImpossible('kernel has no BTF (/sys/kernel/btf/vmlinux missing)')).toBe(true);
    expect(bpfImpossible('BPF object /x/vxm_from_vm.bpf.o missing (run build/build-bpf.sh)')).toBe(true);
    expect(bpfImpossible('bpf dataplane not built')).toBe(true);
    expect(bpfImpossible('clsact hook cannot be created: ip netns add failed')).toBe(false);
    expect(bpfImpossible('loading BPF programs failed: bpf_object__load failed: errno 12 (ENOMEM)')).toBe(false);
  });
});

describe('refused map entries', () => {
  const intent: NodeIntent = {
    node: 'n1',
    clusterNetworks: [{ name: 'overlay', uplink: 'eth1', uplinkMtu: 1500, localVtep: '198.18.0.11', port: 4789, peers: [], networks: [
      { key: 'tenant-a/blue', vni: 100, cidr: '10.10.0.0/24', prefixLen: 24, gateway: '10.10.0.1', gatewayMac: '02:76:6d:00:00:64', natOutgoing: true, mtu: 1450, endpoints: [] },
    ] }],
  };
  const vni = (n: number) => Buffer.from(Uint32Array.of(n).buffer).toString('hex');

  it('belong to the VNI in their key (endpoints, ARP, networks) or value (ports); node-wide maps have none', () => {
    expect(vniOfChange({ map: 'vxm_endpoints', op: 'update', key: `${vni(100)}020000000001`, value: '' })).toBe(100);
    expect(vniOfChange({ map: 'vxm_arp', op: 'update', key: `${vni(200)}0a0a0002`, value: '' })).toBe(200);
    expect(vniOfChange({ map: 'vxm_ports', op: 'update', key: vni(7), value: `${vni(300)}01000000` })).toBe(300);
    expect(vniOfChange({ map: 'vxm_vteps', op: 'update', key: `${vni(1)}c6120b0b`, value: '01' })).toBeUndefined();
  });

  it('fail the network concerned only, one error naming maps, counts and errno', () => {
    const e = (map: 'vxm_endpoints' | 'vxm_arp', k: string) => ({ change: { map, op: 'update' as const, key: k, value: '' }, errno: 7, message: 'bpf_map_update_elem failed: errno 7 (E2BIG)' });
    expect(refusedErrors([e('vxm_endpoints', `${vni(100)}02`), e('vxm_endpoints', `${vni(100)}03`), e('vxm_arp', `${vni(100)}0a`)], intent)).toEqual([{
      vni: 100, network: 'tenant-a/blue',
      message: 'map entries refused, the rest of the node is programmed: vxm_endpoints: 2 entries (bpf_map_update_elem failed: errno 7 (E2BIG)); vxm_arp: 1 entry (bpf_map_update_elem failed: errno 7 (E2BIG))',
    }]);
  });

  it('reads the max_entries test knob (test-only, clearly named)', () => {
    expect(testMaxEntries('vxm_endpoints=4, vxm_arp=8,bad,x=0')).toEqual({ vxm_endpoints: 4, vxm_arp: 8 });
    expect(testMaxEntries(undefined)).toEqual({});
  });
});
