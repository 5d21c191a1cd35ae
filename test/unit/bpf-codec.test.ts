import { describe, expect, it } from 'vitest';
import koffi from 'koffi';
import { LAYOUTS, decode, encode, ipBytes, macBytes, type LayoutName } from '../../src/dataplane/bpf/abi.js';
import { codecOf } from '../../src/dataplane/bpf/codec.js';

/** Deterministic pseudo-random values (xorshift32), so a failure reproduces. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

/** A value for every field of a koffi type, random within (and, with `wild`, beyond) each field's width. */
function sample(type: unknown, next: () => number, wild: boolean): unknown {
  const t = koffi.introspect(type as Parameters<typeof koffi.introspect>[0]) as unknown as {
    primitive: string; length?: number; ref?: unknown; members?: Record<string, { name: string; type: unknown }>;
  };
  const bits = { UInt8: 8, UInt16: 16, UInt32: 32 }[t.primitive];
  // Beyond the int32 range koffi's 8/16-bit casts give 0 instead of wrapping; no ABI value comes near that.
  const wilder = bits === 32 ? [2 ** 40 + 5, next() * 3, Infinity] : [];
  if (bits) return wild ? [-1, -2.5, 300, 70_000, NaN, ...wilder][next() % (5 + wilder.length)] : next() % 2 ** bits;
  if (t.primitive === 'UInt64') return [next(), next() * 2 ** 21 + next(), 2n ** 64n - 1n, 2n ** 53n + 7n][next() % 4];
  if (t.primitive === 'Array') return Array.from({ length: t.length! }, () => sample(t.ref, next, wild));
  return Object.fromEntries(Object.values(t.members!).map((m) => [m.name, sample(m.type, next, wild)]));
}

function viaKoffi(layout: LayoutName, value: Record<string, unknown>): Buffer {
  const buf = Buffer.alloc(koffi.sizeof(LAYOUTS[layout]));
  koffi.encode(buf, LAYOUTS[layout], value);
  return buf;
}

const layouts = Object.keys(LAYOUTS) as LayoutName[];

describe('compiled ABI codecs', () => {
  it.each(layouts)('encode %s to the same bytes as koffi and decode them to the same value', (layout) => {
    const next = rng(layout.length * 7919 + 1);
    for (let i = 0; i < 200; i++) {
      const value = sample(LAYOUTS[layout], next, false) as Record<string, unknown>;
      const bytes = encode(layout, value);
      expect(bytes.toString('hex')).toBe(viaKoffi(layout, value).toString('hex'));
      expect(decode(layout, bytes)).toEqual(koffi.decode(bytes, LAYOUTS[layout]));
      const random = Buffer.from(Array.from({ length: bytes.length }, () => next() & 0xff));
      expect(decode(layout, random)).toEqual(koffi.decode(random, LAYOUTS[layout]));
    }
  });

  it.each(layouts)('wrap out-of-range numbers in %s to the field width as koffi does', (layout) => {
    const next = rng(layout.length * 104729 + 3);
    for (let i = 0; i < 50; i++) {
      const value = sample(LAYOUTS[layout], next, true) as Record<string, unknown>;
      expect(encode(layout, value).toString('hex')).toBe(viaKoffi(layout, value).toString('hex'));
    }
  });

  it('writes zeros for missing fields and array elements, and ignores elements past the array length', () => {
    expect(encode('vxm_port', { vni: 5 }).toString('hex')).toBe('0500000000000000');
    expect(encode('vxm_endpoint_key', { vni: 1, mac: [1, 2, 3] }).toString('hex')).toBe('010000000102030000000000');
    expect(encode('vxm_endpoint_key', { vni: 1, mac: [1, 2, 3, 4, 5, 6, 7] }).toString('hex')).toBe('010000000102030405060000');
  });

  it('decodes a 64-bit field to a number when it is exact, else to a bigint', () => {
    expect(decode('vxm_config', Buffer.from('0000000000000000ffffffffffff1f00', 'hex'))).toEqual({ vxe_ifindex: 0, flags: 0, object_hash: 2 ** 53 - 1 });
    expect(decode('vxm_config', Buffer.from('0000000000000000ffffffffffff2f00', 'hex')).object_hash).toBe(0x2fffffffffffffn);
  });

  it('refuses a string where a number belongs', () => {
    expect(() => encode('vxm_port', { vni: '5' })).toThrow(/vxm_port\.vni: expected a number/);
    expect(() => encode('vxm_endpoint_key', { vni: 1, mac: 'aa:bb' })).toThrow(/mac: expected an array/);
  });

  it('falls back to koffi for a struct with a member type it does not compile', () => {
    const t = koffi.struct('vxm_test_signed', { a: 'int32_t', b: 'uint8_t' });
    const c = codecOf(t);
    expect(c.size).toBe(8);
    expect(c.encode({ a: -2, b: 7 }).toString('hex')).toBe('feffffff07000000');
    expect(c.decode(Buffer.from('feffffff07000000', 'hex'))).toEqual({ a: -2, b: 7 });
  });
});

describe('address parsing', () => {
  it('reads MACs in either case and with one-digit bytes', () => {
    expect(macBytes('52:54:00:AB:cd:ef')).toEqual([0x52, 0x54, 0, 0xab, 0xcd, 0xef]);
    expect(macBytes('2:0:a:0:1:2')).toEqual([2, 0, 10, 0, 1, 2]);
  });

  it.each(['', '52:54:00:ab:cd', '52:54:00:ab:cd:ef:01', '52:54:00:ab:cd:eg', '52:54:00:ab:cd:', '520:54:00:ab:cd:ef', '52-54-00-ab-cd-ef'])(
    'rejects the MAC "%s"', (mac) => expect(() => macBytes(mac)).toThrow(/bad MAC/),
  );

  it('reads dotted-quad IPv4 addresses', () => {
    expect(ipBytes('10.0.0.1')).toEqual([10, 0, 0, 1]);
    expect(ipBytes('255.255.255.255')).toEqual([255, 255, 255, 255]);
    expect(ipBytes('198.018.0.1')).toEqual([198, 18, 0, 1]);
  });

  it.each(['', '10.0.0', '10.0.0.1.2', '10.0.0.256', '10..0.1', '10.0.0.1.', 'a.b.c.d', '10.0.0.1/24', '1000.0.0.1'])(
    'rejects the IPv4 address "%s"', (ip) => expect(() => ipBytes(ip)).toThrow(/bad IPv4/),
  );
});
