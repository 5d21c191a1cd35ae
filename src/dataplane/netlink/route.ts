/** IPv4 routes of the main table (`ip -j route show`). */
import { z } from 'zod';
import { runJson } from '../../util/exec.js';

const Entry = z.object({ dst: z.string(), gateway: z.string().optional(), dev: z.string().optional() }).passthrough();

export interface RouteEntry {
  dst: string;
  via?: string;
  dev?: string;
}

export function parseRoutes(json: unknown): RouteEntry[] {
  return z.array(Entry).parse(json).map((r) => ({ dst: r.dst, via: r.gateway, dev: r.dev }));
}

export async function listRoutes(opts: { netns?: string; routerNs?: string }): Promise<RouteEntry[]> {
  const argv = opts.routerNs ? ['ip', '-n', opts.routerNs, '-4', '-j', 'route', 'show'] : ['ip', '-4', '-j', 'route', 'show'];
  return parseRoutes(await runJson(argv, { netns: opts.routerNs ? undefined : opts.netns }));
}
