/**
 * A private bpffs mount: `ip netns exec` hides /sys/fs/bpf, and benches and tests must never pin into the
 * host's, so each dataplane they drive gets its own mount.
 */
import fs from 'node:fs';
import { run } from './exec.js';

export async function mountBpffs(dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  await run(['mount', '-t', 'bpf', 'bpf', dir]);
}

/** Lazy unmount (a pinned map still open elsewhere must not block cleanup), then the directory goes. */
export async function unmountBpffs(dir: string): Promise<void> {
  await run(['umount', '-l', dir], { allowFailure: true });
  fs.rmSync(dir, { recursive: true, force: true });
}
