/** Bridge FDB entries (`bridge -j fdb show`), both `self` (vxlan device table) and `master` (bridge). */
import { z } from 'zod';
import { runJson } from '../../util/exec.js';

const Entry = z
  .object({
    mac: z.string(),
    ifname: z.string().optional(),
    dst: z.string().optional(),
    master: z.string().optional(),
    flags: z.array(z.string()).default([]),
    state: z.string().default(''),
  })
  .passthrough();

export interface FdbEntry {
  mac: string;
  dev: string;
  /** Remote VTEP (vxlan `self` entries). */
  dst?: string;
  /** True for the device's own table (`self`); false for the bridge's (`master`). */
  self: boolean;
  master?: string;
  /** 'permanent' | 'static' | '' (dynamic) … */
  state: string;
}

export const ZERO_MAC = '00:00:00:00:00:00';

export function parseFdb(json: unknown): FdbEntry[] {
  return z
    .array(Entry)
    .parse(json)
    .filter((e) => e.ifname)
    .map((e) => ({
      mac: e.mac.toLowerCase(),
      dev: e.ifname!,
      dst: e.dst,
      self: e.master === undefined,
      master: e.master,
      state: e.state,
    }));
}

export async function listFdb(opts: { netns?: string }): Promise<FdbEntry[]> {
  return parseFdb(await runJson(['bridge', '-j', 'fdb', 'show'], { netns: opts.netns }));
}
