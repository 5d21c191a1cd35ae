/** Named network namespaces (machine-wide, /run/netns). */
import { z } from 'zod';
import { runJson } from '../../util/exec.js';

export async function listNetns(): Promise<string[]> {
  const arr = z.array(z.object({ name: z.string() }).passthrough()).parse(await runJson(['ip', '-j', 'netns', 'list'], { allowFailure: true }));
  return arr.map((n) => n.name);
}
