/** A private bpffs mount per test file (ip netns exec hides /sys/fs/bpf; tests never touch the host's). */
import fs from 'node:fs';
import crypto from 'node:crypto';
import { run } from '../../src/util/exec.js';

export async function mountBpffs(): Promise<string> {
  const dir = `/run/vxmesh-test/${crypto.randomBytes(4).toString('hex')}`;
  fs.mkdirSync(dir, { recursive: true });
  await run(['mount', '-t', 'bpf', 'bpf', dir]);
  return dir;
}

export async function unmountBpffs(dir: string | undefined): Promise<void> {
  if (!dir) return;
  await run(['umount', '-l', dir], { allowFailure: true });
  fs.rmSync(dir, { recursive: true, force: true });
}
