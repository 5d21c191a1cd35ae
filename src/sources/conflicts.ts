/**
 * Cross-object validation: which version of each object is in force. A version that was accepted keeps
 * precedence over any new version of another object, so a conflicting edit rejects the edit, never the
 * bystander. Kinds are decided in dependency order (cluster networks, configs, networks, allocations,
 * VMIs); within a kind:
 *   1. unchanged objects (candidate equal to the last good version) are admitted first;
 *   2. changed objects: a new version is admitted when it fits what is accepted *and* what the last good
 *      versions of the other changed objects hold (repeated until nothing more fits, so a chain of moves
 *      goes through in one pass); one that does not fit is rejected and its last good version stays in
 *      force (if that still fits);
 *   3. objects never seen good, oldest first (creationTimestamp, else the order the source first saw
 *      them, else by name), are admitted or rejected outright.
 * Pure.
 */
import { InvalidSpecError, refString } from '../errors.js';
import { checkObject } from './conflict-checks.js';
import { admit, newAccepted, reserve, type Obj } from './conflict-index.js';

export interface ConflictOptions {
  /** Keys of NetworkAttachmentDefinitions: VMIs may use those networks (not vxmesh's). */
  nads?: Set<string>;
  /** Rank of each object id in the order the source first saw it (lower = earlier). */
  firstSeen?: ReadonlyMap<string, number>;
}

const ORDER = ['ClusterNetwork', 'VxlanConfig', 'VxlanNetwork', 'VxlanIPAllocation', 'VirtualMachineInstance'];

export function checkConflicts(
  candidates: Map<string, unknown>,
  lastGood: Map<string, unknown>,
  opts: ConflictOptions = {},
): { accepted: Map<string, unknown>; errors: InvalidSpecError[] } {
  const nads = opts.nads ?? new Set<string>();
  const acc = newAccepted();
  const accepted = new Map<string, unknown>();
  const errors: InvalidSpecError[] = [];
  const older = olderFirst(opts.firstSeen ?? new Map());
  const byKind = new Map<string, Array<[string, Obj]>>();
  for (const [id, o] of candidates) {
    const kind = (o as Obj).kind;
    const list = byKind.get(kind) ?? [];
    list.push([id, o as Obj]);
    byKind.set(kind, list);
  }
  const kinds = [...byKind.keys()].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const take = (id: string, o: Obj) => {
    admit(id, o, acc);
    accepted.set(id, o);
  };

  for (const kind of kinds) {
    const items = byKind.get(kind)!.sort(older);
    // Kinds without conflicts among their objects need no precedence: all are decided as unchanged.
    const last = ORDER.includes(kind) ? (id: string) => lastGood.get(id) as Obj | undefined : (_id: string) => undefined;
    const unchanged = items.filter(([id, o]) => last(id) && sameVersion(last(id)!, o));
    const changed = items.filter(([id, o]) => last(id) && !sameVersion(last(id)!, o));
    const fresh = items.filter(([id]) => !last(id));
    reserve(acc, changed.map(([id]) => [id, last(id)!]));

    for (const [id, o] of unchanged) {
      const err = checkObject(o, id, acc, nads);
      if (err) errors.push(err);
      else take(id, o);
    }
    let pending = changed;
    for (let progress = true; progress;) {
      progress = false;
      pending = pending.filter(([id, o]) => {
        if (checkObject(o, id, acc, nads)) return true;
        take(id, o);
        acc.released.add(id);
        progress = true;
        return false;
      });
    }
    for (const [id, o] of pending) {
      const err = checkObject(o, id, acc, nads)!;
      const previous = last(id)!;
      const fits = !checkObject(previous, id, acc, nads);
      acc.released.add(id);
      if (fits) take(id, previous);
      errors.push(fits ? withNote(err, 'the last good version stays in force') : err);
    }
    for (const [id, o] of fresh) {
      const err = checkObject(o, id, acc, nads);
      if (err) errors.push(err);
      else take(id, o);
    }
  }
  return { accepted, errors };
}

const rank = (kind: string) => (ORDER.includes(kind) ? ORDER.indexOf(kind) : ORDER.length);

/** creationTimestamp, then first-seen rank, then id. */
function olderFirst(firstSeen: ReadonlyMap<string, number>) {
  return ([ia, a]: [string, Obj], [ib, b]: [string, Obj]): number => {
    const ta = a.metadata.creationTimestamp, tb = b.metadata.creationTimestamp;
    if (ta && tb && ta !== tb) return ta < tb ? -1 : 1;
    const sa = firstSeen.get(ia), sb = firstSeen.get(ib);
    if (sa !== undefined && sb !== undefined && sa !== sb) return sa - sb;
    return ia.localeCompare(ib);
  };
}

const canonical = new WeakMap<object, string>();

/**
 * Equal content, resourceVersion aside (a status write bumps it). Objects come out of the same zod
 * schemas, so their keys are in the same order and plain JSON compares them; each object's JSON is
 * computed once (a candidate of this pass is the last good version of the next).
 */
export function sameVersion(a: Obj, b: Obj): boolean {
  return a === b || canonicalJson(a) === canonicalJson(b);
}

function canonicalJson(o: Obj): string {
  let json = canonical.get(o);
  if (json === undefined) {
    json = JSON.stringify({ ...o, metadata: { ...o.metadata, resourceVersion: undefined } });
    canonical.set(o, json);
  }
  return json;
}

function withNote(e: InvalidSpecError, note: string): InvalidSpecError {
  const problem = e.message.slice(refString(e.object).length + 2 + e.field.length + 1);
  return new InvalidSpecError(e.object, e.field, `${problem}; ${note}`);
}
