/** A private bpffs mount per test file (ip netns exec hides /sys/fs/bpf; tests never touch the host's). */
import crypto from 'node:crypto';
import { mountBpffs as mount, unmountBpffs as unmount } from '../../src/util/bpffs.js';

export async function mountBpffs(): Promise<string> {
  const dir = `/run/vxmesh-test/${crypto.randomBytes(4).toString('hex')}`;
  await mount(dir);
  return dir;
}

export async function unmountBpffs(dir: string | undefined): Promise<void> {
  if (dir) await unmount(dir);
}
