/** The bpf dataplane's public surface. */
import type { Dataplane, DataplaneOptions } from '../dataplane.js';
import { BpfDataplane } from './dataplane.js';

export { BpfDataplane } from './dataplane.js';
export { probeBpf } from './probe.js';
export { pinnedProgramsCurrent } from './loader.js';
export { PinnedMaps, statPackets, type StatRow } from './maps.js';
export { desiredMaps, diffMaps, type MapState, type NodeEnv, type MapChange } from './desired.js';
export { VERDICTS, type Verdict } from './abi.js';

export function createBpfDataplane(opts: DataplaneOptions): Dataplane {
  return new BpfDataplane(opts);
}
