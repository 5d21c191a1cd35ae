/**
 * A node switching modes: the other mode's devices are found and that mode's retire() is called once, so
 * bridges, router namespaces and NAT (shared by both modes) stay and VMs keep their ports.
 */
import { existsSync, readdirSync } from 'node:fs';
import type { Logger } from 'pino';
import type { DataplaneMode, DataplaneOptions } from '../dataplane/dataplane.js';
import { names } from '../dataplane/names.js';
import { runJson } from '../util/exec.js';
import { createDataplane } from './mode.js';

export async function linkNames(netns?: string): Promise<string[]> {
  const links = await runJson<Array<{ ifname: string }>>(['ip', '-j', 'link', 'show'], { netns, allowFailure: true }).catch(() => []);
  return links.map((l) => l.ifname);
}

/** Pure: does the other mode leave something behind? */
export function otherModeLeftovers(mode: DataplaneMode, links: string[], pinsPresent: boolean): string[] {
  if (mode === 'bpf') return links.filter((l) => /^vxl\d+$/.test(l));
  const found = links.filter((l) => /^vxe\d+$/.test(l));
  if (pinsPresent) found.push('bpffs pins');
  return found;
}

export function pinsPresent(bpffs?: string): boolean {
  const dir = names.pinDir(bpffs ?? '/sys/fs/bpf');
  try {
    return existsSync(dir) && readdirSync(dir).length > 0;
  } catch {
    return false;
  }
}

export async function retireOtherMode(mode: DataplaneMode, opts: DataplaneOptions, log: Logger): Promise<void> {
  const found = otherModeLeftovers(mode, await linkNames(opts.netns), pinsPresent(opts.bpffs));
  if (!found.length) return;
  const other: DataplaneMode = mode === 'bpf' ? 'kernel' : 'bpf';
  log.info({ mode, other, found }, 'retiring the other mode');
  try {
    const dp = await createDataplane(other, opts);
    await dp.retire();
    await dp.close();
  } catch (err) {
    log.warn({ other, err: (err as Error).message }, 'could not retire the other mode');
  }
}
