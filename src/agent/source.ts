/**
 * What the agent needs from a source of cluster objects (file today, Kubernetes in issue 5): the latest
 * validated snapshot, the problems found reading it, a change callback, and a way to publish this node's
 * status so that other nodes learn its VTEP.
 */
import type { VxmeshError } from '../errors.js';
import type { Snapshot, VxlanStatus } from '../model/schema.js';

export interface SourceState {
  snapshot: Snapshot;
  /** Malformed documents and invalid objects (each names its object and field); the snapshot holds last good versions. */
  errors: VxmeshError[];
  /** Increases whenever the snapshot or the errors change. */
  generation: number;
  /** Epoch ms at which the source last confirmed the snapshot current (read or checked unchanged); default: now. */
  checkedAt?: number;
  /**
   * Set while the source cannot be read (e.g. the state directory cannot be listed): `snapshot` is the
   * last one read, not the current truth, and the agent leaves the dataplane as it is until this clears.
   */
  readError?: string;
  /** Failed reads since the source started (vxmesh_source_read_errors_total). */
  readErrors?: number;
}

export interface Source {
  /** Reads everything once, then reports changes through `onChange` (which only marks dirty). */
  start(onChange: () => void): Promise<void>;
  current(): SourceState;
  /** Publishes this node's VxlanStatus for one cluster network (replaces the previous one). */
  publishStatus(status: VxlanStatus): Promise<void>;
  close(): Promise<void>;
}
