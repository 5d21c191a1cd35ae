/** Neighbour entries (`ip -j neigh show`). */
import { z } from 'zod';
import { runJson } from '../../util/exec.js';

const Entry = z
  .object({ dst: z.string(), dev: z.string().optional(), lladdr: z.string().optional(), state: z.array(z.string()).default([]) })
  .passthrough();

export interface NeighEntry {
  ip: string;
  dev: string;
  mac?: string;
  permanent: boolean;
}

export function parseNeigh(json: unknown): NeighEntry[] {
  return z
    .array(Entry)
    .parse(json)
    .filter((e) => e.dev)
    .map((e) => ({ ip: e.dst, dev: e.dev!, mac: e.lladdr?.toLowerCase(), permanent: e.state.includes('PERMANENT') }));
}

export async function listNeigh(opts: { netns?: string }): Promise<NeighEntry[]> {
  return parseNeigh(await runJson(['ip', '-4', '-j', 'neigh', 'show'], { netns: opts.netns }));
}
