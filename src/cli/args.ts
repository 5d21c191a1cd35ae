/** CLI argument parsing on node:util parseArgs; every mistake becomes a UsageError (exit 2). */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../errors.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export function parse(argv: string[], options: Options, usage: string): Parsed {
  try {
    const r = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    return { values: r.values as Parsed['values'], positionals: r.positionals };
  } catch (err) {
    throw new UsageError(`${(err as Error).message.split('\n')[0]}\n\n${usage}`);
  }
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function need(p: Parsed, name: string, usage: string): string {
  const v = str(p, name);
  if (!v) throw new UsageError(`--${name} is required\n\n${usage}`);
  return v;
}

export function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], flag: string, dflt?: T): T | undefined {
  if (value === undefined) return dflt;
  if (!(allowed as readonly string[]).includes(value)) throw new UsageError(`--${flag} must be one of ${allowed.join(', ')} (got ${value})`);
  return value as T;
}

export function noExtra(p: Parsed, max: number, usage: string): void {
  if (p.positionals.length > max) throw new UsageError(`unexpected argument: ${p.positionals[max]}\n\n${usage}`);
}
