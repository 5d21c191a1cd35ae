/** `vxmesh agent`: runs one node's reconcile loop. */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { runUntilSignal } from './signals.js';
import { componentLogger } from '../log.js';
import { cleanupNode, runOnce, serveAgentHealth, startAgent } from '../agent/index.js';
import { createFileSource } from '../sources/file/index.js';
import { createKubernetesSource } from '../sources/kubernetes/index.js';
import { createPolicyStore, policyStoreFile, STATE_DIR } from '../sources/policy-store.js';
import { memoryFileOf } from '../sources/memory.js';
import type { Source } from '../agent/source.js';
import { need, noExtra, oneOf, parse, str } from './args.js';

export const AGENT_USAGE = `Usage: vxmesh agent --node NAME --source file:PATH|kubernetes [options]

Runs the vxmesh agent of one node: a level-triggered reconcile loop that reads cluster objects from the
source, computes this node's intent and programs the dataplane, publishing the node's VTEP and status.
The last good version of every MultiNetworkPolicy is kept in <state dir>/<node>/policies.json and read
on start; with --source kubernetes, so are the order in which objects were first seen and the last good
version of every object, in <state dir>/.vxmesh/<node>.json (the file source keeps them in its own
directory).
Logs are pino JSON on stderr. SIGTERM/SIGINT exit without touching the dataplane.

Options:
  --node NAME          this node's name (as in Node objects and VMI status.nodeName)
  --source SRC         file:PATH (a state directory, or a file in it) | kubernetes
  --mode MODE          auto | bpf | kernel (default auto: bpf when the kernel supports it, else kernel)
  --once               reconcile once and exit (non-zero when anything failed)
  --resync SEC         periodic resync that repairs drift (default 10)
  --peer-probe-interval SEC
                       ICMP echo to every peer VTEP this often, for vxmesh_vtep_peer_reachable (nodes² series
                       in a cluster); 0 turns it off (default: $VXMESH_PEER_PROBE_INTERVAL, 10; "10s" is read too)
  --bpffs PATH         bpffs mount to pin BPF objects under (default /sys/fs/bpf)
  --cleanup            remove everything vxmesh created on this node, then exit
  --kubeconfig PATH    with --source kubernetes (default: $KUBECONFIG, ~/.kube/config, in-cluster)
  --health-port N      serve /healthz, /readyz, /metrics (default: $VXMESH_HEALTH_PORT; none when unset)
  --state-dir PATH     what the agent keeps across restarts (default: $VXMESH_STATE_DIR, /var/lib/vxmesh)
  -h, --help           show this help`;

export async function agentCommand(argv: string[]): Promise<number> {
  const p = parse(argv, {
    node: { type: 'string' }, source: { type: 'string' }, mode: { type: 'string' }, once: { type: 'boolean' },
    resync: { type: 'string' }, 'peer-probe-interval': { type: 'string' }, bpffs: { type: 'string' }, cleanup: { type: 'boolean' },
    kubeconfig: { type: 'string' }, 'health-port': { type: 'string' }, 'state-dir': { type: 'string' },
  }, AGENT_USAGE);
  if (p.values.help) {
    console.log(AGENT_USAGE);
    return 0;
  }
  noExtra(p, 0, AGENT_USAGE);
  const node = need(p, 'node', AGENT_USAGE);
  const mode = oneOf(str(p, 'mode'), ['auto', 'bpf', 'kernel'] as const, 'mode', 'auto')!;
  const resyncS = Number(str(p, 'resync') ?? '10');
  if (!Number.isFinite(resyncS) || resyncS < 0) throw new UsageError(`--resync must be a number of seconds (got ${str(p, 'resync')})`);
  const probeArg = str(p, 'peer-probe-interval') ?? process.env.VXMESH_PEER_PROBE_INTERVAL ?? '10';
  // Seconds, with an optional "s": the chart passes a duration as Prometheus and Kubernetes write them.
  const probeS = /^\d+(\.\d+)?s?$/.test(probeArg) ? Number(probeArg.replace(/s$/, '')) : NaN;
  if (!Number.isFinite(probeS)) throw new UsageError(`--peer-probe-interval must be a number of seconds, 0 for off (got ${probeArg})`);
  const bpffs = str(p, 'bpffs');
  const log = componentLogger('agent', { node });
  const stateDir = str(p, 'state-dir') ?? STATE_DIR;
  const storeFile = policyStoreFile(node, stateDir);
  const memoryFile = memoryFileOf(stateDir, node);
  if (p.values.cleanup) {
    await cleanupNode({ node, mode, bpffs, log });
    rmSync(path.dirname(storeFile), { recursive: true, force: true }); // the last good policies
    rmSync(memoryFile, { force: true }); // the Kubernetes source's first-seen order and last good versions
    return 0;
  }
  const src = need(p, 'source', AGENT_USAGE);
  let source: Source;
  const policyStore = createPolicyStore(storeFile, log);
  if (src === 'kubernetes') source = createKubernetesSource({ node, log, kubeconfig: str(p, 'kubeconfig'), policyStore, memoryFile });
  else if (src.startsWith('file:') && src.length > 5) source = createFileSource({ path: src.slice(5), log, node, policyStore });
  else throw new UsageError(`--source must be file:PATH or kubernetes (got ${src})`);
  const healthPort = str(p, 'health-port') ?? process.env.VXMESH_HEALTH_PORT;
  const opts = { node, mode, bpffs, source, log, resyncMs: resyncS * 1000 };
  if (p.values.once) {
    const errors = await runOnce(opts);
    for (const e of errors) console.error(`vxmesh agent: ${e}`);
    return errors.length ? 1 : 0;
  }
  const port = healthPort ? Number(healthPort) : undefined;
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) throw new UsageError(`--health-port must be a port number (got ${healthPort})`);
  const agent = await startAgent({ ...opts, processMetrics: port !== undefined, peerProbeIntervalMs: probeS * 1000 });
  if (port !== undefined) {
    const server = await serveAgentHealth(agent, { port });
    log.info({ port: server.port }, 'health server listening');
  }
  await runUntilSignal(log, 'agent stopping, dataplane left as it is', () => agent.stop());
  return 0;
}
