/** JSON merge patch (RFC 7386) and JSON patch (RFC 6902), the patch types the double accepts. Pure. */
import { clone, StoreError } from './store.js';

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return clone(patch);
  const out: Record<string, unknown> = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

interface Op {
  op: 'add' | 'remove' | 'replace' | 'test' | 'move' | 'copy';
  path: string;
  value?: unknown;
  from?: string;
}

export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw invalid('json patch must be an array of operations');
  let doc = clone(target);
  for (const op of ops as Op[]) {
    switch (op.op) {
      case 'add': doc = put(doc, op.path, clone(op.value), 'add'); break;
      case 'replace': doc = put(doc, op.path, clone(op.value), 'replace'); break;
      case 'remove': doc = remove(doc, op.path); break;
      case 'test':
        if (JSON.stringify(read(doc, op.path)) !== JSON.stringify(op.value)) throw invalid(`test operation failed at ${op.path}`);
        break;
      case 'copy': doc = put(doc, op.path, clone(read(doc, op.from ?? '')), 'add'); break;
      case 'move': {
        const v = read(doc, op.from ?? '');
        doc = put(remove(doc, op.from ?? ''), op.path, v, 'add');
        break;
      }
      default: throw invalid(`unknown json patch operation ${(op as Op).op}`);
    }
  }
  return doc;
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw invalid(`bad json pointer ${path}`);
  return path.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function read(doc: unknown, path: string): unknown {
  let cur: any = doc;
  for (const p of pointer(path)) {
    if (cur === null || typeof cur !== 'object' || !(p in cur)) throw invalid(`path ${path} does not exist`);
    cur = cur[p];
  }
  return cur;
}

function put(doc: unknown, path: string, value: unknown, mode: 'add' | 'replace'): unknown {
  const parts = pointer(path);
  if (!parts.length) return value;
  const last = parts.pop()!;
  const parent: any = read(doc, parts.length ? `/${parts.map(esc).join('/')}` : '');
  if (Array.isArray(parent)) {
    const i = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(i) || i < 0 || i > parent.length) throw invalid(`bad array index in ${path}`);
    if (mode === 'add') parent.splice(i, 0, value);
    else parent[i] = value;
  } else if (parent !== null && typeof parent === 'object') {
    if (mode === 'replace' && !(last in parent)) throw invalid(`path ${path} does not exist`);
    parent[last] = value;
  } else throw invalid(`path ${path} does not exist`);
  return doc;
}

function remove(doc: unknown, path: string): unknown {
  const parts = pointer(path);
  const last = parts.pop()!;
  const parent: any = read(doc, parts.length ? `/${parts.map(esc).join('/')}` : '');
  if (Array.isArray(parent)) parent.splice(Number(last), 1);
  else if (parent && typeof parent === 'object' && last in parent) delete parent[last];
  else throw invalid(`path ${path} does not exist`);
  return doc;
}

const esc = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

function invalid(message: string): StoreError {
  return new StoreError(422, 'Invalid', message);
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
