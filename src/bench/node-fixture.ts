/**
 * One bench node for the single-node control-plane benches (cp-worker, policy-scale): namespace
 * `vxm-b<id><letter>-n1` on its own underlay switch at NODE_VTEP, with a kernel or bpf dataplane driven
 * in-process (bpf: a private bpffs mount under bpffsRoot(id)). Everything it created (the namespaces, the
 * dataplane's router namespaces `vxmr-b<id><letter>-n1-…`, the mount) is removed when the body returns
 * or throws.
 */
import { pino } from 'pino';
import { addHost, createUnderlay, destroyNamespaces, nsName } from '../lab/topology.js';
import { createKernelDataplane } from '../dataplane/kernel/index.js';
import { createBpfDataplane } from '../dataplane/bpf/index.js';
import type { Dataplane, DataplaneMode } from '../dataplane/dataplane.js';
import { mountBpffs, unmountBpffs } from '../util/bpffs.js';
import { bpffsRoot } from './topo.js';

/** The node's underlay address: the local VTEP of the intents the benches program. */
export const NODE_VTEP = '198.18.0.11';

export interface BenchNode {
  /** Node name the dataplane runs as (names its router namespaces). */
  node: string;
  dp: Dataplane;
}

/** `letter` keeps one bench's namespaces and mount apart from another's with the same id (cp-worker c, policy-scale p). */
export async function withBenchNode<T>(mode: DataplaneMode, id: string, letter: string, body: (n: BenchNode) => Promise<T>): Promise<T> {
  const prefix = `vxm-b${id}${letter}`;
  const node = `b${id}${letter}-n1`;
  const bpffs = `${bpffsRoot(id)}/${letter}-${process.pid}`;
  let dp: Dataplane | undefined;
  try {
    await createUnderlay(prefix);
    await addHost(prefix, 'n1', `${NODE_VTEP}/24`);
    const netns = nsName(prefix, 'n1');
    const log = pino({ level: 'silent' });
    if (mode === 'bpf') {
      await mountBpffs(bpffs);
      dp = createBpfDataplane({ node, netns, bpffs, log });
    } else dp = createKernelDataplane({ node, netns, log });
    return await body({ node, dp });
  } finally {
    await dp?.close().catch(() => undefined);
    await destroyNamespaces([prefix, `vxmr-${node}`]);
    if (mode === 'bpf') await unmountBpffs(bpffs);
  }
}
