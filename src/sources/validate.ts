/**
 * The source boundary: raw documents -> validated, conflict-free Snapshot. Pure.
 * Each object is checked by its kind's zod schema, then against the others (VNI unique across the cluster,
 * gateway inside the CIDR, MACs and fixed IPs unique per network, references that resolve and that the
 * namespace may use; see conflicts.ts). An object that fails is left out as a whole and its last good
 * version keeps being served; on a conflict the object that changed is the one rejected, so bad input never
 * takes a working network down. An invalid MultiNetworkPolicy without a last good version fails closed
 * (policy-fallback.ts).
 */
import YAML from 'yaml';
import type { ZodError } from 'zod';
import { InvalidSpecError, SourceError, type ObjectRef, type VxmeshError } from '../errors.js';
import { emptySnapshot, keyOf, schemasByKind, type Kind, type Snapshot } from '../model/schema.js';
import { checkConflicts } from './conflicts.js';
import { failClosedPolicy, isFailClosed } from './policy-fallback.js';

/** Last valid version of every object, by `<kind>/<key>`. */
export type LastGood = Map<string, unknown>;

export interface ParseResult {
  docs: unknown[];
  /** Non-empty when the text is malformed; `docs` then holds nothing (the caller keeps the file's last good docs). */
  errors: VxmeshError[];
}

/** Multi-document YAML (or JSON) -> plain objects. `kind: List` items are flattened. */
export function parseDocuments(text: string, origin: string): ParseResult {
  const docs: unknown[] = [];
  const errors: VxmeshError[] = [];
  for (const doc of YAML.parseAllDocuments(text)) {
    if (doc.errors.length) {
      for (const e of doc.errors) errors.push(new SourceError(`${origin}: malformed YAML: ${e.message.split('\n')[0]}`, { cause: e }));
      continue;
    }
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) continue;
    if (isObj(value) && value.kind === 'List' && Array.isArray(value.items)) docs.push(...value.items);
    else docs.push(value);
  }
  return errors.length ? { docs: [], errors } : { docs, errors };
}

export interface BuildResult {
  snapshot: Snapshot;
  errors: InvalidSpecError[];
  lastGood: LastGood;
  /** Objects of other kinds (NetworkAttachmentDefinitions, Lab, …) are not part of the snapshot. */
  ignored: number;
}

const snapshotField: Record<Exclude<Kind, 'Lab'>, keyof Snapshot> = {
  ClusterNetwork: 'clusterNetworks',
  VxlanConfig: 'vxlanConfigs',
  VxlanNetwork: 'vxlanNetworks',
  VirtualMachineInstance: 'vmis',
  VxlanIPAllocation: 'allocations',
  VxlanStatus: 'statuses',
  Node: 'nodes',
  MultiNetworkPolicy: 'policies',
  Namespace: 'namespaces',
};

export interface BuildOptions {
  /** Rank of each object id (`<kind>/<key>`) in the order the source first saw it; see conflicts.ts. */
  firstSeen?: ReadonlyMap<string, number>;
}

export function buildSnapshot(docs: unknown[], lastGood: LastGood = new Map(), opts: BuildOptions = {}): BuildResult {
  const errors: InvalidSpecError[] = [];
  const candidates = new Map<string, unknown>();
  const nads = new Set<string>();
  let ignored = 0;
  for (const doc of docs) {
    const kind = isObj(doc) ? doc.kind : undefined;
    if (typeof kind !== 'string' || !(kind in snapshotField)) {
      if (kind === 'NetworkAttachmentDefinition') {
        const ref = rawRef('VxlanNetwork', doc);
        nads.add(`${ref.namespace}/${ref.name}`);
      }
      ignored++;
      continue;
    }
    const schema = schemasByKind[kind as Kind];
    const parsed = schema.safeParse(doc);
    const ref = rawRef(kind, doc);
    const id = docId(doc)!;
    if (parsed.success) {
      if (candidates.has(id)) errors.push(new InvalidSpecError(ref, 'metadata.name', 'is defined twice; the first definition is used'));
      else candidates.set(id, parsed.data);
    } else {
      errors.push(zodToSpecError(ref, parsed.error));
      if (lastGood.has(id)) candidates.set(id, lastGood.get(id));
      else if (kind === 'MultiNetworkPolicy' && !candidates.has(id)) candidates.set(id, failClosedPolicy(doc, ref)); // policy-fallback.ts
    }
  }
  // Cross-object checks; a conflicting object falls back to its last good version (if that one fits).
  const { accepted, errors: conflictErrors } = checkConflicts(candidates, lastGood, { nads, ...(opts.firstSeen ? { firstSeen: opts.firstSeen } : {}) });
  errors.push(...conflictErrors);

  const snapshot = emptySnapshot();
  for (const [id, obj] of accepted) {
    const kind = id.split('/')[0] as Exclude<Kind, 'Lab'>;
    (snapshot[snapshotField[kind]] as unknown[]).push(obj);
  }
  for (const list of Object.values(snapshot) as Array<Array<{ metadata: { namespace?: string; name: string } }>>) {
    list.sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  }
  return { snapshot, errors, lastGood: new Map([...accepted].filter(([, o]) => !isFailClosed(o))), ignored };
}

/** The id (`<kind>/<namespace>/<name>`) buildSnapshot keys a document by, or undefined for kinds it ignores. */
export function docId(doc: unknown): string | undefined {
  const kind = isObj(doc) ? doc.kind : undefined;
  if (typeof kind !== 'string' || !(kind in snapshotField)) return undefined;
  const ref = rawRef(kind, doc);
  return `${kind}/${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
}

function zodToSpecError(ref: ObjectRef, err: ZodError): InvalidSpecError {
  const issue = err.issues[0]!;
  const field = issue.path.length ? issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : p)).join('.').replace(/\.\[/g, '[') : '(object)';
  const message = issue.code === 'invalid_type' && issue.received === 'undefined' ? 'is required' : issue.message;
  return new InvalidSpecError(ref, field, message);
}

function rawRef(kind: string, doc: unknown): ObjectRef {
  const md = isObj(doc) && isObj(doc.metadata) ? doc.metadata : {};
  const name = typeof md.name === 'string' ? md.name : '<unnamed>';
  const namespaced = ['VxlanNetwork', 'VirtualMachineInstance', 'VxlanIPAllocation', 'MultiNetworkPolicy'].includes(kind);
  const namespace = typeof md.namespace === 'string' ? md.namespace : namespaced ? 'default' : undefined;
  return { kind, name, namespace };
}

function isObj(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
