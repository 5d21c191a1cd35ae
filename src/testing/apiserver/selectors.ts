/** Label and field selectors as the API server evaluates them (the equality-based subset and existence). Pure. */
import type { K8sObject } from './store.js';

export type Matcher = (o: K8sObject) => boolean;

export function labelMatcher(selector: string | null): Matcher {
  if (!selector) return () => true;
  const reqs = selector.split(',').map((s) => s.trim()).filter(Boolean).map((req): Matcher => {
    const ne = req.match(/^([^!=]+)!=(.*)$/);
    if (ne) return (o) => (o.metadata.labels ?? {})[ne[1]!.trim()] !== ne[2]!.trim();
    const eq = req.match(/^([^!=]+)==?(.*)$/);
    if (eq) return (o) => (o.metadata.labels ?? {})[eq[1]!.trim()] === eq[2]!.trim();
    if (req.startsWith('!')) return (o) => !(req.slice(1).trim() in (o.metadata.labels ?? {}));
    return (o) => req in (o.metadata.labels ?? {});
  });
  return (o) => reqs.every((r) => r(o));
}

export function fieldMatcher(selector: string | null): Matcher {
  if (!selector) return () => true;
  const reqs = selector.split(',').map((s) => s.trim()).filter(Boolean).map((req): Matcher => {
    const m = req.match(/^([^!=]+)(!=|==|=)(.*)$/);
    if (!m) return () => false;
    const [, path, op, value] = m;
    return (o) => {
      const v = String(path!.split('.').reduce<any>((cur, p) => (cur == null ? undefined : cur[p]), o) ?? '');
      return op === '!=' ? v !== value : v === value;
    };
  });
  return (o) => reqs.every((r) => r(o));
}
