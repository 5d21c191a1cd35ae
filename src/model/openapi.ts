/**
 * zod -> OpenAPI v3 (Kubernetes structural schema) for the subset the resource model uses: objects
 * (strip / passthrough), strings (regex, length), numbers (int, bounds), booleans, enums, literals, arrays,
 * string records, unions of strings, optional, default, and transforms (the input side). Pure.
 */
import type { ZodTypeAny } from 'zod';

export interface JsonSchema {
  type?: 'object' | 'string' | 'integer' | 'number' | 'boolean' | 'array';
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema;
  items?: JsonSchema;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  enum?: Array<string | number | boolean>;
  default?: unknown;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-validations'?: Array<{ rule: string; message: string; fieldPath?: string; reason?: string }>;
  [k: string]: unknown;
}

export function toOpenApi(schema: ZodTypeAny): JsonSchema {
  const def = schema._def as Record<string, any>;
  switch (def.typeName as string) {
    case 'ZodOptional':
    case 'ZodNullable':
      return toOpenApi(def.innerType);
    case 'ZodDefault':
      return { ...toOpenApi(def.innerType), default: def.defaultValue() };
    case 'ZodEffects':
      return toOpenApi(def.schema);
    case 'ZodString': {
      const out: JsonSchema = { type: 'string' };
      for (const c of def.checks as Array<Record<string, any>>) {
        if (c.kind === 'regex') {
          if (out.pattern) throw new Error('toOpenApi: one regex per string (RE2 has no lookahead to combine them)');
          out.pattern = c.regex.source;
        }
        if (c.kind === 'min') out.minLength = c.value;
        if (c.kind === 'max') out.maxLength = c.value;
      }
      return out;
    }
    case 'ZodNumber': {
      const int = (def.checks as Array<Record<string, any>>).some((c) => c.kind === 'int');
      const out: JsonSchema = { type: int ? 'integer' : 'number' };
      for (const c of def.checks as Array<Record<string, any>>) {
        if (c.kind === 'min') out.minimum = c.inclusive ? c.value : c.value + (int ? 1 : Number.EPSILON);
        if (c.kind === 'max') out.maximum = c.inclusive ? c.value : c.value - (int ? 1 : Number.EPSILON);
      }
      return out;
    }
    case 'ZodBoolean':
      return { type: 'boolean' };
    case 'ZodEnum':
      return { type: 'string', enum: [...def.values] };
    case 'ZodLiteral':
      return { type: typeof def.value as 'string', enum: [def.value] };
    case 'ZodArray': {
      const out: JsonSchema = { type: 'array', items: toOpenApi(def.type) };
      if (def.minLength) out.minItems = def.minLength.value;
      if (def.maxLength) out.maxItems = def.maxLength.value;
      return out;
    }
    case 'ZodRecord':
      return { type: 'object', additionalProperties: toOpenApi(def.valueType) };
    case 'ZodUnion': {
      const options = (def.options as ZodTypeAny[]).map(toOpenApi);
      if (options.every((o) => o.type === 'string' && o.pattern && Object.keys(o).length === 2))
        return { type: 'string', pattern: options.map((o) => `(${o.pattern})`).join('|') };
      throw new Error('toOpenApi: only unions of patterned strings are supported');
    }
    case 'ZodObject': {
      const shape = def.shape() as Record<string, ZodTypeAny>;
      const properties: Record<string, JsonSchema> = {};
      const required: string[] = [];
      for (const [k, v] of Object.entries(shape)) {
        properties[k] = toOpenApi(v);
        if (!v.isOptional()) required.push(k);
      }
      return {
        type: 'object',
        properties,
        ...(required.length ? { required } : {}),
        ...(def.unknownKeys === 'passthrough' ? { 'x-kubernetes-preserve-unknown-fields': true } : {}),
      };
    }
    default:
      throw new Error(`toOpenApi: unsupported zod type ${def.typeName}`);
  }
}
