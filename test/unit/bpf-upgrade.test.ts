/**
 * ensurePrograms across builds on a private bpffs (no namespaces): a first install fills the new maps
 * from a complete staging set; a build whose vxm_endpoints changed shape gets a new map with every entry
 * carried (what the programs learned included) while unchanged maps are the same kernel objects; a build
 * that fails to load leaves the pinned programs and maps as they were.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EP_ARRIVING, EP_LOCAL, encode } from '../../src/dataplane/bpf/abi.js';
import * as bpf from '../../src/dataplane/bpf/libbpf.js';
import { PROGRAMS, TEST_MAX_ENTRIES_ENV, ensurePrograms, objectDir } from '../../src/dataplane/bpf/loader.js';
import { MAP_SIZES } from '../../src/dataplane/bpf/maps.js';
import { STAGING_DIR } from '../../src/dataplane/bpf/upgrade.js';
import { mountBpffs, unmountBpffs } from '../helpers/bpffs.js';

let bpffs: string | undefined;
let pinDir = '';
const dirs: string[] = [];

/** A copy of this build's objects whose hash differs (a trailing byte libbpf ignores): "another build". */
function otherBuild(breakObject?: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vxm-objs-'));
  dirs.push(dir);
  for (const p of Object.values(PROGRAMS)) {
    const bytes = fs.readFileSync(path.join(objectDir(), p.object));
    fs.writeFileSync(path.join(dir, p.object), p.object === breakObject ? bytes.subarray(0, 200) : Buffer.concat([bytes, Buffer.from([dirs.length])]));
  }
  return dir;
}

/** Opens a pin of pinDir for `fn`, then closes it. */
function withPin<T>(pin: string, fn: (fd: number) => T): T {
  const fd = bpf.objGet(path.join(pinDir, pin));
  try {
    return fn(fd);
  } finally {
    bpf.closeFd(fd);
  }
}
const info = (map: string) => withPin(map, bpf.mapShape);
const progId = (pin: string) => withPin(pin, bpf.progId);
const epKey = (n: number) => encode('vxm_endpoint_key', { vni: 100, mac: [2, 0, 0, 0, 0, n], pad: [0, 0] });

beforeAll(async () => {
  bpffs = await mountBpffs();
});
afterEach(() => {
  delete process.env[TEST_MAX_ENTRIES_ENV];
});
afterAll(async () => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  await unmountBpffs(bpffs);
});

describe('loading a new build make-before-break', () => {
  it('first install: fills the maps from a complete staging set before the pins appear', () => {
    pinDir = path.join(bpffs!, 'vxmesh');
    const seen: string[][] = [];
    const r = ensurePrograms(pinDir, objectDir(), (staging) => {
      seen.push(fs.readdirSync(staging).sort());
      expect(fs.existsSync(path.join(pinDir, 'vxm_ports')), 'nothing pinned under the real names yet').toBe(false);
      const fd = bpf.objGet(path.join(staging, 'vxm_endpoints'));
      bpf.mapUpdate(fd, epKey(1), encode('vxm_endpoint', { remote_vtep: 0, ifindex: 7, flags: EP_LOCAL, next_vtep: 0 }));
      bpf.closeFd(fd);
    });
    r.settle();
    expect(r.loaded).toBe(true);
    expect(r.steps.every((s) => s.action === 'create')).toBe(true);
    expect(seen[0]).toEqual(expect.arrayContaining(['vxm_ct', 'vxm_ct_abi', 'vxm_endpoints', 'vxm_ports', 'prog_from_vm', 'prog_from_tunnel', 'prog_to_port']));
    expect(fs.existsSync(path.join(pinDir, STAGING_DIR))).toBe(false);
    const fd = bpf.objGet(path.join(pinDir, 'vxm_endpoints'));
    expect(bpf.mapLookup(fd, epKey(1), MAP_SIZES.vxm_endpoints.value)).toBeDefined();
    bpf.closeFd(fd);
  });

  it('a changed vxm_endpoints is migrated with every entry (learned flags included); unchanged maps stay the same objects', () => {
    const before = { ports: info('vxm_ports').id, endpoints: info('vxm_endpoints') };
    let fd = bpf.objGet(path.join(pinDir, 'vxm_endpoints'));
    bpf.mapUpdate(fd, epKey(2), encode('vxm_endpoint', { remote_vtep: 0xc6120002, ifindex: 9, flags: EP_ARRIVING, next_vtep: 0 }));
    bpf.closeFd(fd);
    process.env[TEST_MAX_ENTRIES_ENV] = 'vxm_endpoints=4096';
    const lines: string[] = [];
    const r = ensurePrograms(pinDir, otherBuild(), undefined, (l) => lines.push(l));
    r.settle();
    expect(r.loaded).toBe(true);
    expect(lines).toEqual([`map vxm_endpoints: migrate (copy): max entries ${before.endpoints.maxEntries} -> 4096`]);
    expect(info('vxm_ports').id, 'reused').toBe(before.ports);
    expect(info('vxm_endpoints')).toMatchObject({ maxEntries: 4096 });
    expect(info('vxm_endpoints').id).not.toBe(before.endpoints.id);
    fd = bpf.objGet(path.join(pinDir, 'vxm_endpoints'));
    try {
      expect(bpf.mapLookup(fd, epKey(1), 16)!.readUInt32LE(4)).toBe(7);
      expect(bpf.mapLookup(fd, epKey(2), 16)!.readUInt32LE(8)).toBe(EP_ARRIVING);
    } finally {
      bpf.closeFd(fd);
    }
  });

  it('a build that fails to open, or whose fill fails, leaves the pinned programs and maps untouched', () => {
    const before = { prog: progId('prog_from_vm'), ct: info('vxm_ct').id, endpoints: info('vxm_endpoints').id };
    expect(() => ensurePrograms(pinDir, otherBuild('vxm_to_port.bpf.o'))).toThrow(/bpf_object__open_file/);
    expect({ prog: progId('prog_from_vm'), ct: info('vxm_ct').id, endpoints: info('vxm_endpoints').id }).toEqual(before);
    expect(fs.existsSync(path.join(pinDir, STAGING_DIR))).toBe(false);
    // Loaded, but the fill fails (after the new maps and programs exist under staging): still untouched.
    process.env[TEST_MAX_ENTRIES_ENV] = 'vxm_endpoints=2048';
    expect(() => ensurePrograms(pinDir, otherBuild(), () => { throw new Error('fill failed'); })).toThrow('fill failed');
    expect({ prog: progId('prog_from_vm'), ct: info('vxm_ct').id, endpoints: info('vxm_endpoints').id }).toEqual(before);
    expect(info('vxm_endpoints').maxEntries).toBe(4096);
    expect(fs.existsSync(path.join(pinDir, STAGING_DIR))).toBe(false);
  });
});
