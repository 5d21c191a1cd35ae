/** Reads sysctls in a namespace (writes go through Change{tool:'sysctl'}). */
import { run } from '../../util/exec.js';

export async function readSysctl(key: string, opts: { netns?: string }): Promise<string | undefined> {
  const r = await run(['sysctl', '-n', key], { netns: opts.netns, allowFailure: true });
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

export const IP_FORWARD = 'net.ipv4.ip_forward';
