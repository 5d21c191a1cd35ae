/** Can this node run kernel mode? Needs ip/bridge/nft and vxlan support (tried on a throwaway device). */
import { run } from '../../util/exec.js';
import type { ProbeResult } from '../dataplane.js';

export async function probeKernel(opts: { netns?: string } = {}): Promise<ProbeResult> {
  for (const argv of [['ip', '-V'], ['bridge', '-V'], ['nft', '--version']]) {
    const r = await run(argv, { allowFailure: true }).catch(() => undefined);
    if (!r || r.exitCode !== 0) return { ok: false, reason: `${argv[0]} not usable` };
  }
  const dev = 'vxmprobe0';
  const add = await run(['ip', 'link', 'add', dev, 'type', 'vxlan', 'id', '1', 'dstport', '4789', 'nolearning'], { netns: opts.netns, allowFailure: true });
  if (add.exitCode !== 0) return { ok: false, reason: `cannot create a vxlan device: ${add.stderr.trim()}` };
  await run(['ip', 'link', 'del', dev], { netns: opts.netns, allowFailure: true });
  const nft = await run(['nft', 'list', 'tables'], { netns: opts.netns, allowFailure: true });
  if (nft.exitCode !== 0) return { ok: false, reason: `nftables not usable: ${nft.stderr.trim()}` };
  return { ok: true };
}
