/**
 * Test helper: checks an object against a CRD's structural OpenAPI schema the way the API server would
 * (types, required, patterns, bounds, enums, unknown fields), and evaluates the CEL rules vxmesh uses —
 * they are written in the CEL subset that is also JavaScript (comparisons, &&, ||, has(), size()).
 */
import type { JsonSchema } from '../../src/model/openapi.js';

/** `old`: the object before an update; transition rules (oldSelf) are evaluated only then, as the API server does. */
export function checkSchema(schema: JsonSchema, value: unknown, path = '', old?: unknown): string[] {
  const errs: string[] = [];
  const at = path || '<root>';
  if (value === undefined) return errs;
  switch (schema.type) {
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${at}: expected object`];
      const obj = value as Record<string, unknown>;
      for (const r of schema.required ?? []) if (obj[r] === undefined) errs.push(`${path}.${r}: required`);
      for (const [k, v] of Object.entries(obj)) {
        const sub = schema.properties?.[k] ?? schema.additionalProperties;
        const oldV = old && typeof old === 'object' ? (old as Record<string, unknown>)[k] : undefined;
        if (sub) errs.push(...checkSchema(sub, v, `${path}.${k}`, oldV));
        else if (!schema['x-kubernetes-preserve-unknown-fields'] && schema.properties) errs.push(`${path}.${k}: unknown field`);
      }
      for (const rule of schema['x-kubernetes-validations'] ?? []) {
        const transition = rule.rule.includes('oldSelf');
        if (transition && old === undefined) continue;
        const oldSelf = transition ? withDefaults(schema, old as Record<string, unknown>) : undefined;
        if (!evalCel(rule.rule, withDefaults(schema, obj), oldSelf)) errs.push(`${at}: ${rule.message}`);
      }
      return errs;
    }
    case 'array':
      if (!Array.isArray(value)) return [`${at}: expected array`];
      if (schema.minItems !== undefined && value.length < schema.minItems) errs.push(`${at}: fewer than ${schema.minItems} items`);
      value.forEach((v, i) => errs.push(...checkSchema(schema.items!, v, `${path}[${i}]`)));
      return errs;
    case 'string':
      if (typeof value !== 'string') return [`${at}: expected string`];
      if (schema.pattern && !new RegExp(schema.pattern).test(value)) errs.push(`${at}: does not match ${schema.pattern}`);
      if (schema.minLength !== undefined && value.length < schema.minLength) errs.push(`${at}: shorter than ${schema.minLength}`);
      if (schema.maxLength !== undefined && value.length > schema.maxLength) errs.push(`${at}: longer than ${schema.maxLength}`);
      break;
    case 'integer':
    case 'number':
      if (typeof value !== 'number' || (schema.type === 'integer' && !Number.isInteger(value))) return [`${at}: expected ${schema.type}`];
      if (schema.minimum !== undefined && value < schema.minimum) errs.push(`${at}: should be >= ${schema.minimum}`);
      if (schema.maximum !== undefined && value > schema.maximum) errs.push(`${at}: should be <= ${schema.maximum}`);
      break;
    case 'boolean':
      if (typeof value !== 'boolean') return [`${at}: expected boolean`];
      break;
  }
  if (schema.enum && !schema.enum.includes(value as never)) errs.push(`${at}: not one of ${schema.enum.join(', ')}`);
  return errs;
}

/** The API server applies defaults before CEL runs. */
function withDefaults(schema: JsonSchema, obj: Record<string, unknown>): Record<string, unknown> {
  const out = { ...obj };
  for (const [k, sub] of Object.entries(schema.properties ?? {})) {
    if (out[k] === undefined && sub.default !== undefined) out[k] = structuredClone(sub.default);
    if (sub.type === 'object' && out[k] && typeof out[k] === 'object') out[k] = withDefaults(sub, out[k] as Record<string, unknown>);
  }
  return out;
}

export function evalCel(rule: string, self: unknown, oldSelf?: unknown): boolean {
  if (!/^[\w\s.'!=<>&|()+\-]*$/.test(rule)) throw new Error(`CEL rule outside the evaluated subset: ${rule}`);
  if (rule === 'self == oldSelf') return JSON.stringify(self) === JSON.stringify(oldSelf); // CEL compares values, JS references
  const fn = new Function('self', 'oldSelf', 'has', 'size', `return (${rule});`) as (s: unknown, o: unknown, h: (v: unknown) => boolean, z: (v: unknown) => number) => boolean;
  return fn(self, oldSelf, (v) => v !== undefined, (v) => (Array.isArray(v) || typeof v === 'string' ? v.length : Object.keys(v as object).length));
}

/**
 * Evaluates a ValidatingAdmissionPolicy expression against `object` and `request`: the CEL vxmesh's policy
 * uses is also JavaScript (has(), `'k' in map`, endsWith, ==, +, &&, ||, indexing).
 */
export function evalAdmission(expression: string, vars: { object: unknown; request: unknown }): boolean {
  if (!/^[\w\s.'!=&|()+\-\[\]/:]*$/.test(expression)) throw new Error(`CEL expression outside the evaluated subset: ${expression}`);
  const fn = new Function('object', 'request', 'has', `return (${expression});`) as (o: unknown, r: unknown, h: (v: unknown) => boolean) => boolean;
  return fn(vars.object, vars.request, (v) => v !== undefined);
}
