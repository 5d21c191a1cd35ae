import { describe, expect, it } from 'vitest';
import { intToIp, ipToInt } from '../../src/util/ipv4.js';

/** What ipToInt computed before it parsed by hand: its results must not change. */
function reference(ip: string): number {
  const p = ip.split('.').map(Number);
  return (((p[0]! << 24) >>> 0) + (p[1]! << 16) + (p[2]! << 8) + p[3]!) >>> 0;
}

describe('ipToInt', () => {
  it('converts dotted quads, both ends of the range included', () => {
    expect(ipToInt('0.0.0.0')).toBe(0);
    expect(ipToInt('10.0.0.1')).toBe(0x0a000001);
    expect(ipToInt('255.255.255.255')).toBe(0xffffffff);
    expect(ipToInt('198.18.0.11')).toBe(0xc612000b);
  });

  it('round-trips with intToIp over many addresses', () => {
    for (let n = 0; n < 2 ** 32; n += 16_777_259) expect(ipToInt(intToIp(n))).toBe(n);
  });

  it.each(['010.0.0.1', '1.2.3', '1.2.3.4.5', '1.2.3.300', '', '1..2.3', '1.2.3.4 ', ' 1.2.3.4', '0x10.0.0.1', 'a.b.c.d', '1.2.3.1000', '1.2.3.-1'])(
    'gives "%s" the value it always had', (ip) => expect(ipToInt(ip)).toBe(reference(ip)),
  );
});
