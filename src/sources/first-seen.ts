/**
 * The order in which a source first saw each object: the tie-break for conflicts between objects never
 * seen good when creationTimestamp cannot decide (the file source has none; Kubernetes' has one-second
 * resolution). Pure.
 */
export interface FirstSeen {
  rank: Map<string, number>;
  next: number;
}

export function newFirstSeen(): FirstSeen {
  return { rank: new Map(), next: 1 };
}

/**
 * Gives ids not seen before the next ranks (in the order given) and forgets ids no longer present (a
 * deleted and recreated object is new). Returns whether anything changed.
 */
export function noteFirstSeen(seen: FirstSeen, ids: string[]): boolean {
  let changed = false;
  const present = new Set(ids);
  for (const id of ids) {
    if (seen.rank.has(id)) continue;
    seen.rank.set(id, seen.next++);
    changed = true;
  }
  for (const id of [...seen.rank.keys()]) {
    if (present.has(id)) continue;
    seen.rank.delete(id);
    changed = true;
  }
  return changed;
}
