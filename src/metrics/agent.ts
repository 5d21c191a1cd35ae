/** The agent's metric families (names are part of the user-facing contract; see the README). */
import { Registry, type Counter, type Gauge, type Histogram } from './prometheus.js';

export interface AgentMetrics {
  registry: Registry;
  /** seconds per reconcile, labelled result=ok|error */
  reconcileDuration: Histogram;
  reconcileErrors: Counter;
  /** entries currently programmed, labelled kind=fdb|neigh|port|route|map… */
  entriesProgrammed: Gauge;
  /** invalid objects in the current snapshot */
  invalidObjects: Gauge;
  /** per-VNI packet counters read from the BPF maps, labelled vni, direction, result */
  packets: Counter;
  ready: Gauge;
}

export function agentMetrics(): AgentMetrics {
  const registry = new Registry();
  return {
    registry,
    reconcileDuration: registry.histogram('vxmesh_reconcile_duration_seconds', 'Time one reconcile of the node dataplane took.'),
    reconcileErrors: registry.counter('vxmesh_reconcile_errors_total', 'Reconciles that failed.'),
    entriesProgrammed: registry.gauge('vxmesh_entries_programmed', 'Dataplane entries vxmesh currently programs, by kind.'),
    invalidObjects: registry.gauge('vxmesh_invalid_objects', 'Cluster objects rejected by validation (last good version kept).'),
    packets: registry.counter('vxmesh_packets_total', 'Packets seen by the BPF dataplane, by VNI, direction and result.'),
    ready: registry.gauge('vxmesh_agent_ready', '1 when the agent has synced its source and reconciled once.'),
  };
}
