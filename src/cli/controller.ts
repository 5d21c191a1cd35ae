/** `vxmesh controller`: the cluster-wide controller (IPAM, NADs, network conditions), one leader at a time. */
import { componentLogger } from '../log.js';
import { runController } from '../controller/index.js';
import { noExtra, parse, str } from './args.js';
import { UsageError } from '../errors.js';
import { runUntilSignal } from './signals.js';

export const CONTROLLER_USAGE = `Usage: vxmesh controller [options]

Runs the vxmesh controller against the Kubernetes API: for every VxlanNetwork a NetworkAttachmentDefinition
(vxmesh-cni plugging VMs into vxb<vni>, shaped for Harvester's webhook), persistent IPAM (one
VxlanIPAllocation per VM NIC, kept across migration and restarts, guarded by VxlanIPClaims),
Ready/InvalidSpec/PoolExhausted conditions and Events. Replicas elect one leader through the Lease
vxmesh-system/vxmesh-controller.

Options:
  --kubeconfig PATH    default: $KUBECONFIG, ~/.kube/config, in-cluster service account
  --no-leader-election act at once (a single replica only)
  --health-port N      serve /healthz, /readyz, /metrics (default: $VXMESH_HEALTH_PORT)
  -h, --help           show this help`;

export async function controllerCommand(argv: string[]): Promise<number> {
  const p = parse(argv, { kubeconfig: { type: 'string' }, 'no-leader-election': { type: 'boolean' }, 'health-port': { type: 'string' } }, CONTROLLER_USAGE);
  if (p.values.help) {
    console.log(CONTROLLER_USAGE);
    return 0;
  }
  noExtra(p, 0, CONTROLLER_USAGE);
  const hp = str(p, 'health-port') ?? process.env.VXMESH_HEALTH_PORT;
  const healthPort = hp === undefined ? undefined : Number(hp);
  if (healthPort !== undefined && (!Number.isInteger(healthPort) || healthPort < 1 || healthPort > 65535)) throw new UsageError(`--health-port must be a port number (got ${hp})`);
  const log = componentLogger('controller');
  const c = await runController({ kubeconfig: str(p, 'kubeconfig'), log, leaderElection: !p.values['no-leader-election'], healthPort });
  await runUntilSignal(log, 'controller stopping', () => c.stop());
  return 0;
}
