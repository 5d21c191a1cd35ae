/**
 * Comparing JSON documents by content. The API server returns custom resources with their keys sorted
 * (Go encodes maps that way), so an object read back never has the key order vxmesh wrote it in: plain
 * `JSON.stringify` comparison would call every read-back status "changed" and rewrite it forever.
 */

/** JSON text with object keys sorted at every level; undefined members dropped, as JSON does. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (x === null || typeof x !== 'object' || Array.isArray(x)) return x;
    return Object.fromEntries(Object.keys(x as object).sort().map((k) => [k, (x as Record<string, unknown>)[k]]));
  });
}

/** Same JSON content regardless of key order (array order matters). */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
