import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildSnapshot, parseDocuments } from '../../src/sources/validate.js';

export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
}

/** Parses a fixture (or YAML text) into documents; throws on malformed YAML. */
export function docsOf(yamlText: string): unknown[] {
  const r = parseDocuments(yamlText, 'test');
  if (r.errors.length) throw r.errors[0];
  return r.docs;
}

export function fixtureDocs(name: string): unknown[] {
  return docsOf(readFileSync(fixturePath(name), 'utf8'));
}

export function snapshotOf(docs: unknown[]) {
  return buildSnapshot(docs);
}
