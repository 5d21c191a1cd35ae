/** FNV-1a, 32 bits, over the UTF-8 bytes of `s`: stable names, ids and content hashes (not for security). */
export function fnv1a(s: string): number {
  let h = 2166136261;
  for (const byte of Buffer.from(s, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

/** fnv1a as 8 hex digits. */
export const fnv1aHex = (s: string): string => fnv1a(s).toString(16).padStart(8, '0');
