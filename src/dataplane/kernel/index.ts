import type { Dataplane, DataplaneOptions } from '../dataplane.js';
import { KernelDataplane } from './dataplane.js';

export { KernelDataplane } from './dataplane.js';
export { probeKernel } from './probe.js';
export { planKernel, type KernelPlan } from './plan.js';
export { planVxlans, vxlanDiff, wantedVxlans } from './vxlan.js';
export { planFdb } from './fdb.js';
export { vtepFilterTable, vtepSetName, VTEP_TABLE } from './vtep-filter.js';
export { inspectData, inspectText } from './inspect.js';

export function createKernelDataplane(opts: DataplaneOptions): Dataplane {
  return new KernelDataplane(opts);
}
export { floodLimitTable, FLOOD_TABLE } from './flood-limit.js';
