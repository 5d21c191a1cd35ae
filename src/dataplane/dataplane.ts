/**
 * The dataplane contract. Two implementations: `kernel` (vxlan devices, bridges, static FDB/neigh,
 * nftables) and `bpf` (TC programs steering from BPF maps). Both take the same NodeIntent, both are
 * level-triggered: reconcile() observes what vxmesh owns, diffs it against the intent and applies only
 * the difference, so calling it twice is harmless. Neither ever tears anything down on exit.
 */
import type { Logger } from 'pino';
import type { NodeIntent } from '../intent/types.js';

export type DataplaneMode = 'kernel' | 'bpf';
export type ModeRequest = DataplaneMode | 'auto';

export interface DataplaneOptions {
  /** Kubernetes node name; also used to name this node's router namespaces (`vxmr-<node>-<vni>`). */
  node: string;
  /** bpffs mount to pin under (`<bpffs>/vxmesh/`). Default /sys/fs/bpf. */
  bpffs?: string;
  /** Run every command inside this named netns (tests drive a node from the root namespace). Default: the process's own. */
  netns?: string;
  log: Logger;
}

export interface ReconcileReport {
  mode: DataplaneMode;
  /** Number of changes applied (0 when already converged). */
  changes: number;
  /** Per-network failures; one network failing never blocks the others. */
  errors: Array<{ network?: string; vni?: number; message: string }>;
  durationMs: number;
  /**
   * What the dataplane holds after the pass, by kind (vxmesh_entries_programmed): bpf, the entries of each
   * map it writes; kernel, the static fdb and neigh entries, only when the pass converged.
   */
  entries?: Record<string, number>;
  /** bpf: map entries the kernel refused this pass (e.g. a full map), by map; their networks are in `errors`. */
  refused?: Record<string, number>;
}

/** One {vni, verdict} counter of the bpf programs (vxm_stats), summed over CPUs, since they were loaded. */
export interface PacketCounter {
  vni: number;
  verdict: string;
  packets: number;
  bytes: number;
}

/** Events of the bpf programs (vxm_events) not sent, summed over CPUs: over the budget, or with the ring full. */
export interface EventsLost {
  overBudget: number;
  ringFull: number;
}

export interface InspectReport {
  mode: DataplaneMode;
  /** Human-readable text (what `vxmesh inspect` prints). */
  text: string;
  /** Structured form of the same (for --json and tests). */
  data: unknown;
}

export interface Dataplane {
  readonly mode: DataplaneMode;
  reconcile(intent: NodeIntent): Promise<ReconcileReport>;
  /**
   * Optional fast lane for a VM port plugged or unplugged: program just the ports (bpf: maps, attachments,
   * port gate) at once, even while a pass is in flight; undefined when only a full pass can. The loop
   * still runs a full pass after it.
   */
  programPorts?(intent: NodeIntent): Promise<{ changes: number; errors: number; durationMs: number } | undefined>;
  inspect(): Promise<InspectReport>;
  /** Per-VNI packet counters read now (for /metrics); kernel mode keeps none and returns []. */
  counters(): Promise<PacketCounter[]>;
  /** bpf: events the programs could not send (vxm_ev_cpu), since they were loaded; kernel mode has no events. */
  eventsLost?(): Promise<EventsLost | undefined>;
  /** Explicit uninstall: removes every device, namespace, table, pin and attachment vxmesh created. */
  cleanup(): Promise<void>;
  /**
   * Removes only what this mode creates and the other mode does not (kernel: vxl* devices and the VTEP
   * filter; bpf: vxe* devices, TC attachments, pins). Called when a node switches mode; bridges, router
   * namespaces and NAT (shared by both modes) stay, so VMs keep their ports and gateway.
   */
  retire(): Promise<void>;
  /** Releases handles (fds); never changes the dataplane. */
  close(): Promise<void>;
}

export interface ProbeResult {
  ok: boolean;
  /** Why not, in one line (logged when auto mode falls back to kernel). */
  reason?: string;
}
