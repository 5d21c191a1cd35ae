/**
 * Comparing API objects by content. The API server returns a custom resource's fields in alphabetical
 * order (it holds them as a map), not in the order a client wrote them, so plain JSON text of what was
 * written and what comes back differs for equal content.
 */

/** Pure: JSON text with every object's keys sorted (arrays keep their order; undefined fields left out). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v);
}

/** Pure: equal content, whatever the order of the keys. */
export function sameContent(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
