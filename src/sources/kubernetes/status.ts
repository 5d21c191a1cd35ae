/**
 * Publishing a node's VxlanStatus (cluster-scoped, `<clusterNetwork>.<node>`). The CRD enables the status
 * subresource, so a create stores no status: create the object, then PUT /status with its resourceVersion;
 * a 409 (someone else wrote meanwhile) re-reads and retries. Nothing is written when the cache already
 * holds the same status.
 */
import type { Logger } from 'pino';
import { VXMESH_API, type VxlanStatus } from '../../model/schema.js';
import { apiErrorCode, errorMessage, type KObject, type KubeClient } from '../../k8s/client.js';
import type { Informer } from '../../k8s/informer.js';
import { RESOURCES } from '../../k8s/resources.js';
import { sameJson } from '../../util/json.js';

export function statusName(clusterNetwork: string, node: string): string {
  return `${clusterNetwork}.${node}`;
}

export async function writeStatus(client: KubeClient, status: VxlanStatus, cache: Informer | undefined, log: Logger): Promise<void> {
  const name = statusName(status.status.clusterNetwork, status.status.node);
  const cached = cache?.get(name);
  if (cached && sameJson(cached.status, status.status)) return;
  const res = RESOURCES.statuses;
  for (let attempt = 0; ; attempt++) {
    try {
      let current: KObject | undefined = attempt === 0 && cached ? cached : await client.get(res, name);
      if (!current) {
        current = await client.create(res, {
          apiVersion: VXMESH_API, kind: 'VxlanStatus',
          metadata: { name, labels: { 'network.vxmesh.io/clusternetwork': status.status.clusterNetwork, 'network.vxmesh.io/node': status.status.node } },
          status: status.status,
        });
      }
      await client.replaceStatus(res, { ...current, status: status.status });
      log.debug({ name, op: 'publishStatus' }, 'status published');
      return;
    } catch (err) {
      const code = apiErrorCode(err);
      if ((code === 409 || code === 404) && attempt < 5) continue;
      log.warn({ name, err: errorMessage(err) }, 'status publish failed');
      throw err;
    }
  }
}
