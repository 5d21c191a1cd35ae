/**
 * The REST verbs of the double on one parsed path: list, get, create, update (PUT), patch, delete, and
 * the status subresource. Semantics follow kube-apiserver: resourceVersion preconditions (409 Conflict),
 * 409 AlreadyExists, 404 NotFound, status ignored on the main endpoint when the status subresource is on,
 * generation bumped on spec changes, list metadata carrying the collection's resourceVersion.
 */
import { randomBytes } from 'node:crypto';
import { apiVersionOf, type ParsedPath } from './resources.js';
import { jsonPatch, mergePatch } from './patch.js';
import type { Matcher } from './selectors.js';
import { clone, notFound, StoreError, type K8sObject, type Store } from './store.js';
import { withKind } from './watch.js';

export interface Reply {
  code: number;
  body: unknown;
}

export function list(store: Store, p: ParsedPath, matches: Matcher): Reply {
  const r = p.resource;
  const items = store.list(r, p.namespace).filter(matches).map((o) => {
    if (!r.builtin) return o;
    const { apiVersion: _a, kind: _k, ...rest } = o;
    return rest;
  });
  return { code: 200, body: { apiVersion: apiVersionOf(r), kind: `${r.kind}List`, metadata: { resourceVersion: String(store.currentRv()) }, items } };
}

export function get(store: Store, p: ParsedPath): Reply {
  const o = store.get(p.resource, p.namespace, p.name!);
  if (!o) throw notFound(p.resource, p.name!);
  return { code: 200, body: withKind(p.resource, o) };
}

export function create(store: Store, p: ParsedPath, body: unknown): Reply {
  const r = p.resource;
  const obj = checkBody(p, body);
  const md = obj.metadata;
  if (!md.name && md.generateName) md.name = `${md.generateName}${randomBytes(3).toString('hex').slice(0, 5)}`;
  if (!md.name) throw new StoreError(422, 'Invalid', `${r.kind}.${r.group} "": metadata.name: Required value: name or generateName is required`);
  if (r.namespaced) md.namespace = p.namespace ?? md.namespace;
  if (r.namespaced && !md.namespace) throw new StoreError(400, 'BadRequest', 'the server could not find the requested resource: namespace required');
  if (!r.namespaced) delete md.namespace;
  if (r.status && !r.builtin) delete obj.status;
  return { code: 201, body: store.create(r, withKind(r, obj)) };
}

export function update(store: Store, p: ParsedPath, body: unknown): Reply {
  const r = p.resource;
  const obj = checkBody(p, body);
  if (obj.metadata.name !== p.name) throw new StoreError(400, 'BadRequest', `the name of the object (${obj.metadata.name}) does not match the name on the URL (${p.name})`);
  if (!r.builtin && !obj.metadata.resourceVersion)
    throw new StoreError(422, 'Invalid', `${r.kind}.${r.group} "${p.name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`);
  return { code: 200, body: write(store, p, withKind(r, obj)) };
}

export function patch(store: Store, p: ParsedPath, body: unknown, contentType: string): Reply {
  const r = p.resource;
  const old = store.get(r, p.namespace, p.name!);
  if (!old) throw notFound(r, p.name!);
  let next: K8sObject;
  if (contentType.startsWith('application/merge-patch+json')) next = mergePatch(old, body) as K8sObject;
  else if (contentType.startsWith('application/json-patch+json')) next = jsonPatch(old, body) as K8sObject;
  else if (contentType.startsWith('application/strategic-merge-patch+json') && r.builtin) next = mergePatch(old, body) as K8sObject;
  else throw new StoreError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json`);
  const patchedRv = (body as any)?.metadata?.resourceVersion;
  next.metadata = { ...next.metadata, resourceVersion: patchedRv ?? old.metadata.resourceVersion, name: old.metadata.name, namespace: old.metadata.namespace };
  if (!r.namespaced) delete next.metadata.namespace;
  return { code: 200, body: write(store, p, next) };
}

export function remove(store: Store, p: ParsedPath, body: unknown): Reply {
  const expectRv = (body as any)?.preconditions?.resourceVersion;
  return { code: 200, body: withKind(p.resource, store.delete(p.resource, p.namespace, p.name!, expectRv)) };
}

/** Applies a full new version through the main endpoint or /status. */
function write(store: Store, p: ParsedPath, next: K8sObject): K8sObject {
  const r = p.resource;
  const old = store.get(r, p.namespace, p.name!);
  if (!old) throw notFound(r, p.name!);
  next.metadata.namespace = r.namespaced ? p.namespace : undefined;
  if (!r.namespaced) delete next.metadata.namespace;
  if (p.subresource === 'status') {
    if (!r.status) throw notFound(r, `${p.name}/status`);
    const merged = clone(old);
    merged.status = next.status;
    merged.metadata.resourceVersion = next.metadata.resourceVersion ?? old.metadata.resourceVersion;
    return store.update(r, merged, false);
  }
  if (p.subresource) throw notFound(r, `${p.name}/${p.subresource}`);
  if (r.status && !r.builtin) {
    if (old.status === undefined) delete next.status;
    else next.status = old.status;
  }
  const specChanged = JSON.stringify(strip(old)) !== JSON.stringify(strip(next));
  return store.update(r, next, specChanged);
}

function strip(o: K8sObject): unknown {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
  return rest;
}

function checkBody(p: ParsedPath, body: unknown): K8sObject {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new StoreError(400, 'BadRequest', 'the request body must be a JSON object');
  const obj = clone(body) as K8sObject;
  obj.metadata = { ...(obj.metadata ?? {}) };
  const r = p.resource;
  if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersionOf(r)) throw new StoreError(400, 'BadRequest', `the API version in the data (${obj.apiVersion}) does not match the expected API version (${apiVersionOf(r)})`);
  if (obj.kind !== undefined && obj.kind !== r.kind) throw new StoreError(400, 'BadRequest', `the kind in the data (${obj.kind}) does not match the expected kind (${r.kind})`);
  if (!r.builtin && (obj.apiVersion === undefined || obj.kind === undefined)) throw new StoreError(400, 'BadRequest', 'Object \'Kind\' is missing in the request body');
  if (p.namespace && obj.metadata.namespace && obj.metadata.namespace !== p.namespace)
    throw new StoreError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
  return obj;
}
