import { describe, expect, it } from 'vitest';
import koffi from 'koffi';
import path from 'node:path';
import { runJson } from '../../src/util/exec.js';
import * as abi from '../../src/dataplane/bpf/abi.js';
import { LAYOUTS, VERDICTS } from '../../src/dataplane/bpf/abi.js';
import { PROGRAMS, objectDir } from '../../src/dataplane/bpf/loader.js';

interface BtfType { id: number; kind: string; name: string; size?: number; members?: Array<{ name: string; bits_offset: number }>; values?: Array<{ name: string; val: number }> }

async function btfTypes(): Promise<BtfType[]> {
  const all: BtfType[] = [];
  for (const p of Object.values(PROGRAMS)) {
    const j = await runJson<{ types: BtfType[] }>(['bpftool', '-j', 'btf', 'dump', 'file', path.join(objectDir(), p.object)]);
    all.push(...j.types);
  }
  return all;
}

describe('abi.ts mirrors vxm_abi.h', () => {
  it('has the size and every field offset of each shared struct as compiled into the objects', async () => {
    const types = await btfTypes();
    for (const [name, layout] of Object.entries(LAYOUTS)) {
      const s = types.find((t) => t.kind === 'STRUCT' && t.name === name);
      expect(s, `struct ${name} in BTF`).toBeDefined();
      expect({ name, size: koffi.sizeof(layout) }).toEqual({ name, size: s!.size });
      const btfFields = s!.members!.map((m) => ({ field: m.name, offset: m.bits_offset / 8 }));
      const tsFields = Object.keys(koffi.introspect(layout).members as Record<string, unknown>).map((field) => ({ field, offset: koffi.offsetof(layout, field) }));
      expect({ name, fields: tsFields }).toEqual({ name, fields: btfFields });
    }
  });

  it('has the replication budget of the header (kernel mode applies the same numbers)', async () => {
    const fs = await import('node:fs');
    const src = fs.readFileSync(path.join(objectDir(), '../../bpf/include/vxm_abi.h'), 'utf8');
    expect(Number(/#define VXM_BCAST_RATE_PPS (\d+)/.exec(src)?.[1])).toBe(abi.BCAST_RATE_PPS);
    expect(Number(/#define VXM_BCAST_BURST (\d+)/.exec(src)?.[1])).toBe(abi.BCAST_BURST);
  });

  it('has the event ring size, budget and code lists of the header (vxm_events, vxm_ev_cpu)', async () => {
    const fs = await import('node:fs');
    const src = fs.readFileSync(path.join(objectDir(), '../../bpf/include/vxm_abi.h'), 'utf8');
    expect(Number(/#define VXM_EV_RATE (\d+)/.exec(src)?.[1])).toBe(abi.EV_RATE);
    expect(Number(/#define VXM_EV_BURST (\d+)/.exec(src)?.[1])).toBe(abi.EV_BURST);
    expect(/#define VXM_EV_RING_BYTES \((\d+) \* (\d+)\)/.exec(src)?.slice(1).reduce((a, b) => a * Number(b), 1)).toBe(abi.EV_RING_BYTES);
    // enum vxm_err / vxm_miss / vxm_hook by value, in the order of the mirrors
    const values = (prefix: string) => new Map([...src.matchAll(new RegExp(`\\b${prefix}(\\w+) = (\\d+)`, 'g'))].map((m) => [Number(m[2]), m[1]!]));
    const errs = values('VXM_E_');
    expect(abi.REASONS.map((_, i) => (i === 0 ? '' : errs.get(i)?.toLowerCase().replace(/_/g, '-').replace(/^bcast-/, 'broadcast-')))).toEqual([...abi.REASONS]);
    const misses = values('VXM_M_');
    expect(abi.MISSES.map((_, i) => misses.get(i)?.toLowerCase().replace(/_/g, '-'))).toEqual(abi.MISSES.map((m) => m.replace('arp-sender', 'arp-sha')));
    const hooks = values('VXM_HOOK_');
    expect(abi.HOOKS.slice(1).map((_, i) => `vxm_${hooks.get(i + 1)?.toLowerCase()}`)).toEqual(abi.HOOKS.slice(1));
  });

  it('has the flag values of the header (plain constants: clang leaves these enums out of BTF)', async () => {
    const fs = await import('node:fs');
    const src = fs.readFileSync(path.join(objectDir(), '../../bpf/include/vxm_abi.h'), 'utf8');
    const flags = ['PORT_VM', 'PORT_GATEWAY', 'PORT_UNBOUND', 'NET_MOVING', 'EP_LOCAL', 'EP_REMOTE', 'EP_ARRIVING', 'EP_MOVING', 'CFG_POLICY', 'POL_ANY', 'EV_TRACE'] as const;
    const inHeader = Object.fromEntries(flags.map((f) => [f, Number(new RegExp(`\\bVXM_${f} = (\\d+)`).exec(src)?.[1])]));
    expect(inHeader).toEqual(Object.fromEntries(flags.map((f) => [f, abi[f]])));
  });

  it('names the verdicts in the order of enum vxm_verdict', async () => {
    const types = await btfTypes();
    const e = types.find((t) => t.kind === 'ENUM' && t.name === 'vxm_verdict');
    if (e) {
      const vals = e.values!.filter((v) => !v.name.endsWith('__MAX'));
      expect(vals.map((v) => v.val)).toEqual(VERDICTS.map((_, i) => i));
    } else {
      // The enum is only used as constants, so clang may omit it; the count is then checked from the source.
      const fs = await import('node:fs');
      const src = fs.readFileSync(path.join(objectDir(), '../../bpf/include/vxm_abi.h'), 'utf8');
      expect(src).toContain(`VXM_V__MAX = ${VERDICTS.length}`);
    }
  });
});
