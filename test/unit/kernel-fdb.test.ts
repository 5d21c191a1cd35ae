import { describe, it, expect } from 'vitest';
import { planFdb, staticEntryCounts } from '../../src/dataplane/kernel/fdb.js';
import { describeChange, orderChanges } from '../../src/dataplane/netlink/change.js';
import type { FdbEntry } from '../../src/dataplane/netlink/fdb.js';
import type { NeighEntry } from '../../src/dataplane/netlink/neigh.js';
import type { EndpointIntent } from '../../src/intent/types.js';
import { net, intent } from '../helpers/kernel-fixtures.js';

const ep = (ip: string, mac: string, vtep: string): EndpointIntent => ({
  vm: `default/${ip}`, iface: 'default', ip, mac, node: vtep, vtep, local: vtep === '198.18.0.11',
});
const n = net(100, {
  endpoints: [ep('10.10.0.11', '52:54:00:00:00:11', '198.18.0.11'), ep('10.10.0.12', '52:54:00:00:00:12', '198.18.0.12')],
});
const cn = intent([n]).clusterNetworks[0]!;
const self = (mac: string, dst: string): FdbEntry => ({ mac, dev: 'vxl100', dst, self: true, state: 'permanent' });
const pin = (mac: string): FdbEntry => ({ mac, dev: 'vxl100', self: false, master: 'vxb100', state: 'static' });
const nb = (ip: string, mac: string): NeighEntry => ({ ip, dev: 'vxl100', mac, permanent: true });
// Flooding goes to 198.18.0.12 only: 198.18.0.13 is a member without a VM of VNI 100.
const converged: FdbEntry[] = [
  self('00:00:00:00:00:00', '198.18.0.12'),
  self('52:54:00:00:00:12', '198.18.0.12'), pin('52:54:00:00:00:12'),
  { mac: 'aa:bb:cc:dd:ee:ff', dev: 'vxl100', self: false, master: 'vxb100', state: 'permanent' }, // the port's own address
];
const lines = (fdb: FdbEntry[], neigh: NeighEntry[], c = cn, x = n) => orderChanges(planFdb(c, x, fdb, neigh)).map(describeChange);

describe('planFdb', () => {
  it('adds a flood entry per peer holding the VNI (none for a member without its VMs), remote VM MACs with their VTEP and a bridge pin, and neighbours', () => {
    expect(lines([], [])).toEqual([
      'bridge fdb append 00:00:00:00:00:00 dev vxl100 dst 198.18.0.12 self permanent',
      'bridge fdb replace 52:54:00:00:00:12 dev vxl100 dst 198.18.0.12 self permanent',
      'bridge fdb replace 52:54:00:00:00:12 dev vxl100 master static',
      'ip neigh replace 10.10.0.12 lladdr 52:54:00:00:00:12 dev vxl100 nud permanent',
    ]);
  });

  it('plans nothing when everything is there, and never touches the port\'s own address', () => {
    expect(lines(converged, [nb('10.10.0.12', '52:54:00:00:00:12')])).toEqual([]);
  });

  it('moves a migrated VM\'s MAC to its new VTEP in place', () => {
    const moved = net(100, { endpoints: [ep('10.10.0.12', '52:54:00:00:00:12', '198.18.0.13')] });
    expect(lines(converged, [nb('10.10.0.12', '52:54:00:00:00:12')], cn, moved)).toEqual([
      'bridge fdb append 00:00:00:00:00:00 dev vxl100 dst 198.18.0.13 self permanent',
      'bridge fdb replace 52:54:00:00:00:12 dev vxl100 dst 198.18.0.13 self permanent',
      'bridge fdb del 00:00:00:00:00:00 dev vxl100 dst 198.18.0.12 self',
    ]);
  });

  it('removes the tunnel entry and the pin of a VM that became local, after the additions', () => {
    const local = net(100, { endpoints: [ep('10.10.0.12', '52:54:00:00:00:12', '198.18.0.11'), ep('10.10.0.13', '52:54:00:00:00:13', '198.18.0.13')] });
    expect(lines(converged, [nb('10.10.0.12', '52:54:00:00:00:12')], cn, local)).toEqual([
      'bridge fdb append 00:00:00:00:00:00 dev vxl100 dst 198.18.0.13 self permanent',
      'bridge fdb replace 52:54:00:00:00:13 dev vxl100 dst 198.18.0.13 self permanent',
      'bridge fdb replace 52:54:00:00:00:13 dev vxl100 master static',
      'ip neigh replace 10.10.0.13 lladdr 52:54:00:00:00:13 dev vxl100 nud permanent',
      'bridge fdb del 00:00:00:00:00:00 dev vxl100 dst 198.18.0.12 self',
      'bridge fdb del 52:54:00:00:00:12 dev vxl100 self',
      'bridge fdb del 52:54:00:00:00:12 dev vxl100 master',
      'ip neigh del 10.10.0.12 dev vxl100',
    ]);
  });

  it('drops the flood entry of a peer that left or no longer holds the VNI', () => {
    const stale = [...converged, self('00:00:00:00:00:00', '198.18.0.13')];
    expect(lines(stale, [nb('10.10.0.12', '52:54:00:00:00:12')])).toEqual([
      'bridge fdb del 00:00:00:00:00:00 dev vxl100 dst 198.18.0.13 self',
    ]);
    const fewer = intent([n], ['198.18.0.13']).clusterNetworks[0]!;
    expect(lines(converged, [nb('10.10.0.12', '52:54:00:00:00:12')], fewer)).toContain('bridge fdb del 00:00:00:00:00:00 dev vxl100 dst 198.18.0.12 self');
  });

  it('floods to a migration target before the VM arrives there, and to the source from the target', () => {
    const migrating = { ...ep('10.10.0.12', '52:54:00:00:00:12', '198.18.0.12'), migratingTo: { node: '198.18.0.13', vtep: '198.18.0.13' } };
    const got = lines(converged, [nb('10.10.0.12', '52:54:00:00:00:12')], cn, net(100, { endpoints: [migrating] }));
    expect(got).toEqual(['bridge fdb append 00:00:00:00:00:00 dev vxl100 dst 198.18.0.13 self permanent']);
  });

  it('repairs a neighbour with the wrong MAC or state', () => {
    expect(lines(converged, [{ ip: '10.10.0.12', dev: 'vxl100', mac: '52:54:00:00:00:99', permanent: false }])).toEqual([
      'ip neigh replace 10.10.0.12 lladdr 52:54:00:00:00:12 dev vxl100 nud permanent',
    ]);
  });

  it('only looks at its own device', () => {
    const other: FdbEntry[] = converged.map((e) => ({ ...e, dev: 'vxl200' }));
    expect(lines([...converged, ...other], [nb('10.10.0.12', '52:54:00:00:00:12'), { ip: '10.0.0.5', dev: 'vxl200', mac: '52:54:00:00:00:05', permanent: true }])).toEqual([]);
  });
});

describe('staticEntryCounts (vxmesh_entries_programmed in kernel mode)', () => {
  it('counts exactly the entries planFdb adds to an empty device', () => {
    const added = planFdb(cn, n, [], []);
    const counts = staticEntryCounts(intent([n]));
    expect(counts).toEqual({ fdb: added.filter((c) => c.tool === 'bridge').length, neigh: added.filter((c) => c.tool === 'ip').length });
    expect(counts).toEqual({ fdb: 3, neigh: 1 });
  });
});
