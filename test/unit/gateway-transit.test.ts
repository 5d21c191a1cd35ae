import { describe, it, expect } from 'vitest';
import { allocateTransits, transit, transitIndexOf } from '../../src/dataplane/gateway/transit.js';

describe('transit /30 allocation', () => {
  it('numbers slot n as 169.254.64.(4n+1) on the node and .(4n+2) in the router', () => {
    expect(transit(0)).toMatchObject({ nodeAddr: '169.254.64.1/30', routerAddr: '169.254.64.2/30' });
    expect(transit(64)).toMatchObject({ nodeIp: '169.254.65.1', routerIp: '169.254.65.2' });
    expect(transit(4095).routerAddr).toBe('169.254.127.254/30');
  });

  it('maps transit addresses back to their slot and ignores anything else', () => {
    expect(transitIndexOf('169.254.64.6/30')).toBe(1);
    expect(transitIndexOf('169.254.64.5/30')).toBe(1);
    expect(transitIndexOf('169.254.64.4/30')).toBeUndefined();
    expect(transitIndexOf('169.254.64.6/24')).toBeUndefined();
    expect(transitIndexOf('169.254.128.1/30')).toBeUndefined();
    expect(transitIndexOf('10.0.0.1/30')).toBeUndefined();
  });

  it('gives new routers the lowest free slots', () => {
    expect([...allocateTransits([300, 100, 200], new Map())]).toEqual([[100, 0], [200, 1], [300, 2]]);
  });

  it('never renumbers an existing router, even when a lower slot is free', () => {
    const got = allocateTransits([100, 200, 300], new Map([[200, 5]]));
    expect(got.get(200)).toBe(5);
    expect(got.get(100)).toBe(0);
    expect(got.get(300)).toBe(1);
  });

  it('keeps slots of routers that are about to be deleted out of reach of new ones', () => {
    const got = allocateTransits([200], new Map([[100, 0]]));
    expect(got.get(200)).toBe(1);
  });

  it('resolves a clash (two routers on one slot) in favour of the lower VNI', () => {
    const got = allocateTransits([100, 200], new Map([[100, 3], [200, 3]]));
    expect(got.get(100)).toBe(3);
    expect(got.get(200)).toBe(0);
  });
});
