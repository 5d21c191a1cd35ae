/**
 * The double's etcd: objects by resource and namespace/name, one global resourceVersion counter, and a
 * bounded event history that watches replay from. Compaction drops history, so watching from a
 * resourceVersion older than the compacted revision fails with 410 Gone, as with a real API server.
 */
import { randomUUID } from 'node:crypto';
import { resourceId, type ResourceDef } from './resources.js';

export type K8sObject = Record<string, any> & { metadata: Record<string, any> };

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  rv: number;
  resource: string;
  type: WatchEventType;
  object: K8sObject;
  /** The previous version (MODIFIED only), so label-selected watches can turn it into ADDED/DELETED. */
  old?: K8sObject;
}

export class StoreError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface StoreDump {
  rv: number;
  objects: Array<{ resource: string; items: K8sObject[] }>;
}

export class Store {
  private rv = 100;
  private objects = new Map<string, Map<string, K8sObject>>();
  private history: StoreEvent[] = [];
  /** Events with rv <= compacted are gone. */
  private compacted = 100;
  private listeners = new Set<(e: StoreEvent) => void>();

  constructor(private readonly maxHistory = 50_000) {}

  currentRv(): number {
    return this.rv;
  }

  compactedRv(): number {
    return this.compacted;
  }

  /** Drops history up to `rv` (default: everything), so older watches get 410 Gone. */
  compact(rv = this.rv): void {
    this.compacted = Math.max(this.compacted, Math.min(rv, this.rv));
    this.history = this.history.filter((e) => e.rv > this.compacted);
  }

  /** Every object with the revision counter: what a process restart keeps (etcd's data directory). */
  dump(): StoreDump {
    return { rv: this.rv, objects: [...this.objects].map(([resource, m]) => ({ resource, items: [...m.values()] })) };
  }

  /** Loads a dump; history starts empty (compacted at the dump's revision), so older watches get 410 Gone. */
  load(d: StoreDump): void {
    this.objects = new Map(d.objects.map(({ resource, items }) => [resource, new Map(items.map((o) => [key(o.metadata.namespace, o.metadata.name), o]))]));
    this.rv = Math.max(this.rv, d.rv);
    this.history = [];
    this.compacted = this.rv;
  }

  /** Forgets every object (an etcd restore from nothing); the counter stays monotonic and history is compacted. */
  reset(): void {
    this.objects.clear();
    this.compact();
  }

  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Events after `rv` for one resource, or undefined when history no longer reaches back that far. */
  since(resource: ResourceDef, rv: number): StoreEvent[] | undefined {
    if (rv < this.compacted) return undefined;
    const id = resourceId(resource);
    return this.history.filter((e) => e.rv > rv && e.resource === id);
  }

  list(resource: ResourceDef, namespace?: string): K8sObject[] {
    const all = [...(this.objects.get(resourceId(resource))?.values() ?? [])];
    return all
      .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
      .sort((a, b) => key(a.metadata.namespace, a.metadata.name).localeCompare(key(b.metadata.namespace, b.metadata.name)));
  }

  get(resource: ResourceDef, namespace: string | undefined, name: string): K8sObject | undefined {
    const o = this.objects.get(resourceId(resource))?.get(key(namespace, name));
    return o ? clone(o) : undefined;
  }

  create(resource: ResourceDef, obj: K8sObject): K8sObject {
    const md = obj.metadata;
    const k = key(md.namespace, md.name);
    const bucket = this.bucket(resource);
    if (bucket.has(k)) throw new StoreError(409, 'AlreadyExists', `${resource.plural}${resource.group ? `.${resource.group}` : ''} "${md.name}" already exists`);
    const stored = clone(obj);
    stored.metadata = {
      ...md,
      uid: randomUUID(),
      creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      resourceVersion: String(++this.rv),
      ...(resource.builtin && !resource.status ? {} : { generation: 1 }),
    };
    bucket.set(k, stored);
    this.emit(resource, 'ADDED', stored);
    return clone(stored);
  }

  /** Replaces an object; `expectRv` (when given) must match the stored resourceVersion. */
  update(resource: ResourceDef, obj: K8sObject, bumpGeneration: boolean): K8sObject {
    const md = obj.metadata;
    const k = key(md.namespace, md.name);
    const bucket = this.bucket(resource);
    const old = bucket.get(k);
    if (!old) throw notFound(resource, md.name);
    if (md.resourceVersion !== undefined && md.resourceVersion !== old.metadata.resourceVersion) throw conflict(resource, md.name);
    const stored = clone(obj);
    stored.metadata = {
      ...md,
      uid: old.metadata.uid,
      creationTimestamp: old.metadata.creationTimestamp,
      resourceVersion: String(++this.rv),
      ...(old.metadata.generation !== undefined ? { generation: old.metadata.generation + (bumpGeneration ? 1 : 0) } : {}),
    };
    bucket.set(k, stored);
    this.emit(resource, 'MODIFIED', stored, old);
    return clone(stored);
  }

  delete(resource: ResourceDef, namespace: string | undefined, name: string, expectRv?: string): K8sObject {
    const bucket = this.bucket(resource);
    const k = key(namespace, name);
    const old = bucket.get(k);
    if (!old) throw notFound(resource, name);
    if (expectRv !== undefined && expectRv !== old.metadata.resourceVersion) throw conflict(resource, name);
    bucket.delete(k);
    const gone = clone(old);
    gone.metadata.resourceVersion = String(++this.rv);
    this.emit(resource, 'DELETED', gone);
    return clone(gone);
  }

  private bucket(resource: ResourceDef): Map<string, K8sObject> {
    const id = resourceId(resource);
    let b = this.objects.get(id);
    if (!b) this.objects.set(id, (b = new Map()));
    return b;
  }

  private emit(resource: ResourceDef, type: WatchEventType, object: K8sObject, old?: K8sObject): void {
    const e: StoreEvent = { rv: this.rv, resource: resourceId(resource), type, object: clone(object), ...(old ? { old } : {}) };
    this.history.push(e);
    if (this.history.length > this.maxHistory) this.compact(this.history[this.history.length - this.maxHistory]!.rv - 1);
    for (const fn of this.listeners) fn(e);
  }
}

export function notFound(resource: ResourceDef, name: string): StoreError {
  return new StoreError(404, 'NotFound', `${resource.plural}${resource.group ? `.${resource.group}` : ''} "${name}" not found`);
}

function conflict(resource: ResourceDef, name: string): StoreError {
  return new StoreError(409, 'Conflict',
    `Operation cannot be fulfilled on ${resource.plural}${resource.group ? `.${resource.group}` : ''} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
}

function key(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

export function clone<T>(o: T): T {
  return structuredClone(o);
}
