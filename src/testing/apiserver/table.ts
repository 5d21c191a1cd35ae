/**
 * Server-side printing: when a client asks for `as=Table` (kubectl get does), lists and objects are
 * answered as a meta.k8s.io/v1 Table with the CRD's printer columns (vxmesh's kinds, from the same specs the
 * CRDs are generated from) or Name and Age (everything else), as kube-apiserver does.
 */
import { CRD_SPECS } from '../../model/crds.js';
import type { K8sObject } from './store.js';

export const wantsTable = (accept: string | undefined) => /(^|[;,\s])as=Table\b/.test(accept ?? '');

interface Column {
  name: string;
  type: string;
  jsonPath: string;
  priority?: number;
}

const AGE: Column = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

/** The small JSONPath subset printer columns use: `.a.b` and `[?(@.k=="v")]`. */
export function jsonPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const m of path.matchAll(/\.([A-Za-z0-9_-]+)|\[\?\(@\.([A-Za-z0-9_-]+)=="([^"]*)"\)\]/g)) {
    if (cur === undefined || cur === null) return undefined;
    if (m[1] !== undefined) cur = (cur as Record<string, unknown>)[m[1]];
    else cur = Array.isArray(cur) ? cur.find((x) => x?.[m[2]!] === m[3]) : undefined;
  }
  return cur;
}

/** kubectl's short age: 45s, 12m, 5h, 3d. */
export function age(since: string | undefined, now = Date.now()): string {
  const t = since ? Date.parse(since) : NaN;
  if (Number.isNaN(t)) return '<unknown>';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 120 * 60) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

function cell(o: K8sObject, c: Column): unknown {
  const v = jsonPath(o, c.jsonPath);
  if (c.type === 'date') return age(v as string | undefined);
  return v ?? '';
}

export function toTable(plural: string, items: K8sObject[], listMeta: Record<string, unknown> = {}): Record<string, unknown> {
  const columns: Column[] = CRD_SPECS.find((c) => c.plural === plural)?.columns ?? [AGE];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMeta,
    columnDefinitions: [
      { name: 'Name', type: 'string', format: 'name', description: 'Name', priority: 0 },
      ...columns.map((c) => ({ name: c.name, type: c.type, format: '', description: c.jsonPath, priority: c.priority ?? 0 })),
    ],
    rows: items.map((o) => ({
      cells: [o.metadata.name, ...columns.map((c) => cell(o, c))],
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}
