/** `vxmesh inspect`: prints what the dataplane of this node holds (dataplane.inspect()). */
import { hostname } from 'node:os';
import type { DataplaneMode } from '../dataplane/dataplane.js';
import { componentLogger } from '../log.js';
import { createDataplane } from '../agent/mode.js';
import { linkNames } from '../agent/leftovers.js';
import { createFileSource } from '../sources/file/index.js';
import { createKubernetesSource } from '../sources/kubernetes/index.js';
import { noExtra, oneOf, parse, str } from './args.js';

export const INSPECT_USAGE = `Usage: vxmesh inspect [options]

Prints what this node's dataplane holds, in human form: per VNI the bridge, VTEP peers, FDB and neighbour
entries (kernel mode) or the BPF maps with counters (bpf mode). The mode is the one the node's agent runs
(from its published status when --source/--node are given, else from the devices present).

Options:
  --bpffs PATH      bpffs mount the agent pins under (default /sys/fs/bpf)
  --mode MODE       kernel | bpf (default: the mode the node runs)
  --node NAME       node name (default: hostname)
  --source SRC      file:PATH of the state directory, or kubernetes, to read the node's status
  --kubeconfig PATH with --source kubernetes (default: $KUBECONFIG, ~/.kube/config, in-cluster)
  --json            structured output
  -h, --help        show this help`;

export async function inspectCommand(argv: string[]): Promise<number> {
  const p = parse(argv, { bpffs: { type: 'string' }, mode: { type: 'string' }, node: { type: 'string' }, source: { type: 'string' }, kubeconfig: { type: 'string' }, json: { type: 'boolean' } }, INSPECT_USAGE);
  if (p.values.help) {
    console.log(INSPECT_USAGE);
    return 0;
  }
  noExtra(p, 0, INSPECT_USAGE);
  const node = str(p, 'node') ?? hostname();
  const log = componentLogger('inspect', { node });
  let mode = oneOf(str(p, 'mode'), ['kernel', 'bpf'] as const, 'mode');
  const src = str(p, 'source');
  if (!mode && (src?.startsWith('file:') || src === 'kubernetes')) {
    const source = src === 'kubernetes'
      ? createKubernetesSource({ node, log, kubeconfig: str(p, 'kubeconfig') })
      : createFileSource({ path: src.slice(5), log });
    await source.start(() => {});
    mode = source.current().snapshot.statuses.find((s) => s.status.node === node && s.status.mode)?.status.mode;
    await source.close();
  }
  if (!mode) mode = (await linkNames()).some((l) => /^vxe\d+$/.test(l)) ? 'bpf' : ('kernel' as DataplaneMode);
  const dp = await createDataplane(mode, { node, bpffs: str(p, 'bpffs'), log });
  try {
    const r = await dp.inspect();
    console.log(p.values.json ? JSON.stringify({ node, mode: r.mode, data: r.data }, null, 2) : r.text);
  } finally {
    await dp.close();
  }
  return 0;
}
