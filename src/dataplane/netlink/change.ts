/**
 * A Change is one planned kernel operation, pure data: plan() functions return them, apply() runs them
 * in batches (one `ip -batch`, `bridge -batch` or `nft -f` per run of consecutive changes with the same
 * tool and namespace). Plans order changes by `phase` so that one reconcile needs few processes and
 * prerequisites come first (filter before devices, devices before FDB, FDB/neigh before routes,
 * stale deletions last).
 */
export type Tool = 'ip' | 'bridge' | 'nft' | 'sysctl' | 'netns';

export const Phase = {
  netnsAdd: 0,
  /** Security filters go in before any device that opens a port. */
  filter: 5,
  links: 10,
  fdb: 20,
  neigh: 30,
  /** Router namespaces: addresses, routes. */
  router: 40,
  sysctl: 50,
  nft: 60,
  fdbDel: 70,
  neighDel: 80,
  linkDel: 90,
  netnsDel: 100,
} as const;

export interface Change {
  tool: Tool;
  /**
   * ip/bridge: one batch line as argv (no whitespace inside an element); nft: one statement (may span
   * lines); sysctl: [key, value]; netns: ['add' | 'del', name].
   */
  args: string[];
  /** Router namespace to run in; undefined means the node's namespace. */
  ns?: string;
  /** The network the change serves (error attribution: one network failing never blocks the others). */
  vni?: number;
  phase: number;
  /** Why (debug log), e.g. "vxlan local differs: 198.18.0.11 -> 198.18.0.12". */
  reason?: string;
}

/** Stable sort by phase: the order inside one phase is the order the planner emitted. */
export function orderChanges(changes: Change[]): Change[] {
  return changes
    .map((c, i) => ({ c, i }))
    .sort((a, b) => a.c.phase - b.c.phase || a.i - b.i)
    .map((x) => x.c);
}

/** Human-readable one-liner for logs and tests. */
export function describeChange(c: Change): string {
  const where = c.ns ? `[${c.ns}] ` : '';
  return `${where}${c.tool} ${c.args.join(' ')}`;
}
