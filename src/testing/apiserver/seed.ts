/**
 * Loading cluster objects (e.g. a lab file's documents) straight into the double's store: created, or
 * replaced when they exist, status included — what a cluster looks like after controllers have run.
 * Kinds the double does not serve (the Lab object) are skipped and counted.
 */
import { apiVersionOf, type ResourceDef } from './resources.js';
import type { K8sObject, Store } from './store.js';

export function seedObjects(store: Store, resources: ResourceDef[], docs: unknown[]): { applied: number; skipped: number } {
  let applied = 0;
  let skipped = 0;
  for (const doc of docs) {
    const d = doc as K8sObject;
    const r = resources.find((x) => apiVersionOf(x) === d?.apiVersion && x.kind === d?.kind);
    if (!r || !d.metadata?.name) {
      skipped++;
      continue;
    }
    const obj = structuredClone(d);
    if (r.namespaced) obj.metadata.namespace ??= 'default';
    else delete obj.metadata.namespace;
    const existing = store.get(r, obj.metadata.namespace, obj.metadata.name);
    if (existing) store.update(r, { ...obj, metadata: { ...obj.metadata, resourceVersion: undefined } }, true);
    else store.create(r, obj);
    applied++;
  }
  return { applied, skipped };
}
