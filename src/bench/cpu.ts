/** Machine-wide CPU time from /proc/stat (USER_HZ ticks), for CPU seconds per GB. */
import { readFileSync } from 'node:fs';

const USER_HZ = 100;

/** Busy CPU seconds so far (user+nice+system+irq+softirq+steal over all CPUs). */
export function busySeconds(stat = readFileSync('/proc/stat', 'utf8')): number {
  const line = stat.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return NaN;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
  return (user + nice + system + irq + softirq + steal) / USER_HZ;
}

/** Runs `fn` and returns its result with the busy CPU seconds it spanned. */
export async function withCpu<T>(fn: () => Promise<T>): Promise<{ result: T; cpuSeconds: number }> {
  const before = busySeconds();
  const result = await fn();
  return { result, cpuSeconds: busySeconds() - before };
}
