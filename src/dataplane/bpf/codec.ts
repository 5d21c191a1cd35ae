/**
 * codec.ts: encoders/decoders for the ABI's koffi struct types, compiled once per layout into plain
 * Buffer reads and writes at koffi's offsets. koffi.encode/decode take ~2 µs a call; a reconcile at
 * 100k endpoints makes ~600k of them, so this was most of a pass once the map syscalls were batched.
 * Same results as koffi for the types the ABI uses (unsigned 8–64-bit integers, fixed arrays, nested
 * structs; test/unit/bpf-codec.test.ts compares them): a missing field or array element is 0, numbers
 * wrap to the field's width (koffi's 8/16-bit casts give 0 beyond the int32 range instead; no ABI value
 * comes near it), 64-bit fields decode to a number when safe, else a bigint. A layout with any other
 * member type keeps koffi's own encode/decode.
 */
import koffi from 'koffi';

export interface Codec {
  size: number;
  encode(value: Record<string, unknown>): Buffer;
  decode(buf: Buffer): Record<string, unknown>;
}

interface Field {
  write(buf: Buffer, off: number, v: unknown): void;
  read(buf: Buffer, off: number): unknown;
}

type KoffiType = ReturnType<typeof koffi.struct>;
interface TypeInfo {
  name: string;
  primitive: string;
  size: number;
  length?: number;
  hint?: string;
  ref?: KoffiType;
  members?: Record<string, { name: string; type: KoffiType; offset: number }>;
}

const info = (t: KoffiType | string) => koffi.introspect(t) as unknown as TypeInfo;

function num(v: unknown, name: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(BigInt.asUintN(32, v));
  throw new TypeError(`${name}: expected a number, got ${v === null ? 'null' : typeof v}`);
}

function big(v: unknown, name: string): bigint {
  if (typeof v === 'bigint') return BigInt.asUintN(64, v);
  if (typeof v === 'number') return BigInt.asUintN(64, Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n);
  throw new TypeError(`${name}: expected a number, got ${v === null ? 'null' : typeof v}`);
}

/** Uint8Array stores take the value modulo 256 (ToUint8): the same wrapping as koffi's ToUint32 casts. */
const PRIMITIVES: Record<string, (name: string) => Field> = {
  UInt8: (name) => ({
    write: (b, o, v) => { b[o] = num(v, name); },
    read: (b, o) => b[o],
  }),
  UInt16: (name) => ({
    write: (b, o, v) => { const n = num(v, name); b[o] = n; b[o + 1] = n >>> 8; },
    read: (b, o) => b.readUInt16LE(o),
  }),
  UInt32: (name) => ({
    write: (b, o, v) => { const n = num(v, name) >>> 0; b[o] = n; b[o + 1] = n >>> 8; b[o + 2] = n >>> 16; b[o + 3] = n >>> 24; },
    read: (b, o) => b.readUInt32LE(o),
  }),
  UInt64: (name) => ({
    write: (b, o, v) => { b.writeBigUInt64LE(big(v, name), o); },
    read: (b, o) => {
      const n = b.readBigUInt64LE(o);
      return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
    },
  }),
};

function field(t: KoffiType | string, name: string): Field | undefined {
  const i = info(t);
  const prim = PRIMITIVES[i.primitive];
  if (prim) return prim(name);
  if (i.primitive === 'Array' && i.hint === 'Array' && i.ref !== undefined && i.length !== undefined) {
    const elem = field(i.ref, `${name}[]`);
    if (!elem) return undefined;
    const step = info(i.ref).size;
    const length = i.length;
    return {
      write: (b, o, v) => {
        if (v === undefined) return;
        if (!Array.isArray(v)) throw new TypeError(`${name}: expected an array`);
        const n = Math.min(v.length, length);
        for (let k = 0; k < n; k++) if (v[k] !== undefined) elem.write(b, o + k * step, v[k]);
      },
      read: (b, o) => {
        const out = new Array<unknown>(length);
        for (let k = 0; k < length; k++) out[k] = elem.read(b, o + k * step);
        return out;
      },
    };
  }
  if (i.primitive === 'Record' && i.members) {
    const members: Array<{ key: string; offset: number; f: Field }> = [];
    for (const m of Object.values(i.members)) {
      const f = field(m.type, `${name}.${m.name}`);
      if (!f) return undefined;
      members.push({ key: m.name, offset: m.offset, f });
    }
    return {
      write: (b, o, v) => {
        if (v === undefined) return;
        if (typeof v !== 'object' || v === null) throw new TypeError(`${name}: expected an object`);
        const rec = v as Record<string, unknown>;
        for (const m of members) {
          const x = rec[m.key];
          if (x !== undefined) m.f.write(b, o + m.offset, x);
        }
      },
      read: (b, o) => {
        const out: Record<string, unknown> = {};
        for (const m of members) out[m.key] = m.f.read(b, o + m.offset);
        return out;
      },
    };
  }
  return undefined;
}

/** The codec of a koffi struct type: compiled when every member type is supported, else koffi's. */
export function codecOf(type: KoffiType): Codec {
  const size = koffi.sizeof(type);
  const f = field(type, info(type).name);
  if (!f) {
    return {
      size,
      encode: (value) => {
        const buf = Buffer.alloc(size);
        koffi.encode(buf, type, value);
        return buf;
      },
      decode: (buf) => koffi.decode(buf, type) as Record<string, unknown>,
    };
  }
  return {
    size,
    encode: (value) => {
      const buf = Buffer.allocUnsafe(size).fill(0); // from the shared pool: Buffer.alloc's own ArrayBuffer each call costs more than the encode
      f.write(buf, 0, value);
      return buf;
    },
    decode: (buf) => f.read(buf, 0) as Record<string, unknown>,
  };
}
