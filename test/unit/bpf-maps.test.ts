import { describe, expect, it } from 'vitest';
import { changeRuns, hexTable, packHex } from '../../src/dataplane/bpf/maps.js';
import type { MapChange } from '../../src/dataplane/bpf/desired.js';

describe('batched apply helpers', () => {
  it('groups consecutive changes of one map and op into one batch, keeping their order', () => {
    const c = (map: MapChange['map'], op: MapChange['op'], key: string): MapChange => ({ map, op, key, ...(op === 'update' ? { value: '00' } : {}) });
    const changes = [c('vxm_ports', 'update', '01'), c('vxm_ports', 'update', '02'), c('vxm_ports', 'delete', '03'), c('vxm_arp', 'update', '04'), c('vxm_ports', 'update', '05')];
    expect(changeRuns(changes).map((r) => [r.map, r.op, r.changes.map((x) => x.key)])).toEqual([
      ['vxm_ports', 'update', ['01', '02']], ['vxm_ports', 'delete', ['03']], ['vxm_arp', 'update', ['04']], ['vxm_ports', 'update', ['05']],
    ]);
    expect(changeRuns([])).toEqual([]);
  });

  it('packs hex keys back to back and refuses one of the wrong size (an ABI mismatch) before anything is written', () => {
    expect(packHex('vxm_ports', ['01000000', 'ffffffff'], 4).toString('hex')).toBe('01000000ffffffff');
    expect(() => packHex('vxm_ports', ['01000000', '0100'], 4)).toThrow(/vxm_ports failed: errno 22 \(EINVAL\): entry of 2 bytes, the map takes 4/);
  });

  it('turns packed entries into a hex table', () => {
    const t = hexTable({ count: 2, keys: Buffer.from('0100000002000000', 'hex'), values: Buffer.from('aabbccdd', 'hex') }, 4, 2);
    expect([...t]).toEqual([['01000000', 'aabb'], ['02000000', 'ccdd']]);
  });
});
