/** The VxlanStatus objects a node publishes after each reconcile. Pure. */
import { nextCondition } from '../model/conditions.js';
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
  /** Why the node has no (current) VTEP address on this cluster network; vtepIP, if set, is the one held. */
  vtepProblem?: string;
  /** The VtepReady reason for vtepProblem (default NoVtepAddress), e.g. BondingUnavailable. */
  vtepReason?: string;
  /** Why the dataplane mode is not the one requested (auto fell back to kernel); absent: as requested. */
  modeNote?: string;
  /** Messages of the input objects rejected by validation (their last good version is in force). */
  invalidInputs?: string[];
  /** The conditions this node published last time (transition times are kept while a status stays). */
  previous?: VxlanStatus['status']['conditions'];
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
      conditions: statusConditions(s),
    },
  };
}

export function statusConditions(s: StatusInput) {
  const now = s.at.toISOString();
  const invalid = s.invalidInputs ?? [];
  return [
    nextCondition(s.previous, { type: 'Ready', ok: s.ready, reason: s.ready ? 'Reconciled' : 'ReconcileFailed', message: s.message }, now),
    nextCondition(s.previous, {
      type: 'VtepReady', ok: !!s.vtepIP && !s.vtepProblem,
      reason: s.vtepIP && !s.vtepProblem ? 'UplinkAddress' : (s.vtepReason ?? 'NoVtepAddress'),
      message: s.vtepIP && !s.vtepProblem
        ? `VTEP ${s.vtepIP} (${s.mode} dataplane)`
        : `${s.vtepProblem ?? 'no VTEP address'}${s.vtepIP ? `; holding the last VTEP ${s.vtepIP}` : ''}`,
    }, now),
    nextCondition(s.previous, {
      type: 'DataplaneMode', ok: !s.modeNote, reason: s.modeNote ? 'FellBackToKernel' : 'AsRequested',
      message: s.modeNote ?? `${s.mode} dataplane, as requested`,
    }, now),
    nextCondition(s.previous, {
      type: 'InputValid', ok: invalid.length === 0, reason: invalid.length ? 'InvalidObjects' : 'Valid',
      message: invalid.length ? `${invalid.length} invalid object(s), last good versions kept: ${invalid.slice(0, 3).join('; ').slice(0, 400)}` : 'every input object is valid',
    }, now),
  ];
}
