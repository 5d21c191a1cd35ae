/**
 * Every constraint of a CRD's structural schema (type, pattern, length, bounds, enum, item counts,
 * required properties, formats), each turned into one wrong object: a valid example with exactly that one
 * field broken. The real API server is the judge (test/k8s/deploy.test.ts); this module only enumerates
 * what to send and which field the refusal must name. Constraints the example does not reach are
 * reported, so a new schema field without an example value fails the test instead of going unchecked. Pure.
 */
import type { JsonSchema } from '../../src/model/openapi.js';

export type Keyword = 'type' | 'pattern' | 'minLength' | 'maxLength' | 'minimum' | 'maximum' | 'enum' | 'minItems' | 'maxItems' | 'required' | 'format';

/** What the API server says for each keyword (apiextensions-apiserver's schema validation). */
export const REFUSAL: Record<Keyword, RegExp> = {
  type: /must be of type/,
  pattern: /should match '/,
  minLength: /should be at least \d+ chars long/,
  maxLength: /Too long: may not be (more|longer) than \d+/,
  minimum: /should be greater than or equal to/,
  maximum: /should be less than or equal to/,
  enum: /Unsupported value: "[^"]*": supported values:/,
  minItems: /should have at least \d+ items/,
  maxItems: /Too many: \d+: must have at most \d+ items/,
  required: /Required value/,
  format: /must be of type date-time|should match|Invalid value/,
};

type Seg = string | number | { key: string };

export interface Violation {
  /** The field the refusal must name, as the API server writes it (`spec.uplink.nics[0]`, `spec.vtep.addresses.node1`). */
  field: string;
  keyword: Keyword;
  /** The top-level property it lies in (`spec`, `status`): status is written through the status subresource. */
  section: string;
  /** A copy of the example with this one field broken. */
  object: Record<string, any>;
  /** The wrong value (undefined for a removed required field). */
  value: unknown;
}

export interface Enumeration {
  violations: Violation[];
  /** Constraints the example has no value for (a field path and keyword each). */
  unreached: string[];
}

export function fieldOf(segs: Seg[]): string {
  return segs.map((s, i) => (typeof s === 'number' ? `[${s}]` : typeof s === 'object' ? `.${s.key}` : i === 0 ? s : `.${s}`)).join('');
}

const DELETE = Symbol('delete');

function withValue(example: Record<string, any>, segs: Seg[], value: unknown): Record<string, any> {
  const copy = structuredClone(example);
  let o: any = copy;
  for (const s of segs.slice(0, -1)) o = o[typeof s === 'object' ? s.key : s];
  const last = segs.at(-1)!;
  const k = typeof last === 'object' ? last.key : last;
  if (value === DELETE) delete o[k];
  else o[k] = value;
  return copy;
}

const wrongType = (t: JsonSchema['type']): unknown => (t === 'string' ? 12345 : t === 'object' ? 'not-an-object' : t === 'array' ? 'not-an-array' : 'not-a-value');

/** Each constraint reachable from the example, as one violation; the properties of the root named in `skip` are left alone. */
export function enumerateViolations(schema: JsonSchema, example: Record<string, any>, skip = ['apiVersion', 'kind', 'metadata']): Enumeration {
  const violations: Violation[] = [];
  const unreached: string[] = [];
  const add = (segs: Seg[], keyword: Keyword, value: unknown) =>
    violations.push({ field: fieldOf(segs), keyword, section: String(segs[0]), object: withValue(example, segs, value), value: value === DELETE ? undefined : value });

  const walk = (s: JsonSchema, v: unknown, segs: Seg[]) => {
    const constraints = (['type', 'pattern', 'minLength', 'maxLength', 'minimum', 'maximum', 'enum', 'minItems', 'maxItems', 'required', 'format'] as Keyword[])
      .filter((k) => s[k] !== undefined && !(k === 'required' && (s.required ?? []).length === 0));
    if (v === undefined) {
      for (const k of constraints) unreached.push(`${fieldOf(segs)} ${k}`);
      for (const [k, p] of Object.entries(s.properties ?? {})) walk(p, undefined, [...segs, k]);
      if (s.items) walk(s.items, undefined, [...segs, 0]);
      if (s.additionalProperties) walk(s.additionalProperties, undefined, [...segs, { key: 'x' }]);
      return;
    }
    if (s.type) add(segs, 'type', wrongType(s.type));
    if (s.pattern) add(segs, 'pattern', 'Not_valid!');
    if (s.format === 'date-time') add(segs, 'format', 'yesterday');
    if (s.minLength) add(segs, 'minLength', '');
    if (s.maxLength !== undefined) add(segs, 'maxLength', 'a'.repeat(s.maxLength + 1));
    if (s.minimum !== undefined) add(segs, 'minimum', s.minimum - 1);
    if (s.maximum !== undefined) add(segs, 'maximum', s.maximum + 1);
    if (s.enum) add(segs, 'enum', 'not-one-of-them');
    if (s.minItems) add(segs, 'minItems', []);
    if (s.maxItems !== undefined) add(segs, 'maxItems', Array.from({ length: s.maxItems + 1 }, () => (v as unknown[])[0]));
    for (const r of s.required ?? []) {
      if ((v as Record<string, unknown>)[r] === undefined) unreached.push(`${fieldOf([...segs, r])} required`);
      else add([...segs, r], 'required', DELETE);
    }
    for (const [k, p] of Object.entries(s.properties ?? {})) walk(p, (v as Record<string, unknown>)[k], [...segs, k]);
    if (s.items) {
      const first = (v as unknown[])[0];
      walk(s.items, first, [...segs, 0]);
    }
    if (s.additionalProperties) {
      const key = Object.keys(v as object)[0];
      walk(s.additionalProperties, key === undefined ? undefined : (v as Record<string, unknown>)[key], [...segs, { key: key ?? 'x' }]);
    }
  };
  for (const [k, p] of Object.entries(schema.properties ?? {})) if (!skip.includes(k)) walk(p, example[k], [k]);
  for (const r of schema.required ?? []) if (!skip.includes(r)) add([r], 'required', DELETE);
  return { violations, unreached };
}
