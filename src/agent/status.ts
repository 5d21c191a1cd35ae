/** The VxlanStatus objects a node publishes after each reconcile. Pure. */
import { VXMESH_API, type VxlanStatus } from '../model/schema.js';
import type { DataplaneMode } from '../dataplane/dataplane.js';

export interface StatusInput {
  node: string;
  clusterNetwork: string;
  vtepIP?: string;
  mode: DataplaneMode;
  ready: boolean;
  message: string;
  at: Date;
}

export function statusObject(s: StatusInput): VxlanStatus {
  return {
    apiVersion: VXMESH_API,
    kind: 'VxlanStatus',
    metadata: { name: `${s.clusterNetwork}.${s.node}` },
    status: {
      clusterNetwork: s.clusterNetwork,
      node: s.node,
      ...(s.vtepIP ? { vtepIP: s.vtepIP } : {}),
      mode: s.mode,
      ready: s.ready,
      message: s.message,
      lastReconcile: s.at.toISOString(),
    },
  };
}
