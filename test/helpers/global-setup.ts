/** vitest globalSetup: test labs a previous (interrupted) run left are removed first, this run's at the end. */
import { sweepTestControlPlanes } from './control-plane.js';
import { sweepTestLabs } from './lab-registry.js';

export async function setup(): Promise<void> {
  const gone = await sweepTestLabs();
  if (gone.length) console.warn(`removed ${gone.length} namespaces of test labs an earlier run left behind`);
  const cps = await sweepTestControlPlanes();
  if (cps) console.warn(`stopped ${cps} control planes an earlier run left behind`);
}

export async function teardown(): Promise<void> {
  const gone = await sweepTestLabs();
  if (gone.length) console.warn(`removed ${gone.length} namespaces of test labs whose own cleanup failed: ${gone.join(' ')}`);
  const cps = await sweepTestControlPlanes();
  if (cps) console.warn(`stopped ${cps} control planes whose test files did not stop them`);
}
