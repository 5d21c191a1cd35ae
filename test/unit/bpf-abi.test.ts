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

  it('has the flag values of the header (plain constants: clang leaves these enums out of BTF)', async () => {
    const fs = await import('node:fs');
    const src = fs.readFileSync(path.join(objectDir(), '../../bpf/include/vxm_abi.h'), 'utf8');
    const flags = ['PORT_VM', 'PORT_GATEWAY', 'PORT_UNBOUND', 'NET_MOVING', 'EP_LOCAL', 'EP_REMOTE', 'EP_ARRIVING', 'EP_MOVING', 'CFG_POLICY', 'POL_ANY'] as const;
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
