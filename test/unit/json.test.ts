import { describe, expect, it } from 'vitest';
import { statusChanged } from '../../src/controller/conditions.js';
import { canonicalJson, sameJson } from '../../src/util/json.js';

describe('JSON compared by content', () => {
  it('ignores key order at every level, keeps array order, drops undefined like JSON', () => {
    expect(sameJson({ a: 1, b: { c: [1, { d: 2, e: 3 }] } }, { b: { c: [1, { e: 3, d: 2 }] }, a: 1 })).toBe(true);
    expect(sameJson({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(sameJson({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(sameJson({ a: 1 }, { a: '1' })).toBe(false);
    expect(canonicalJson({ b: 1, a: 2 })).toBe('{"a":2,"b":1}');
  });

  it('a status read back from the API server (keys sorted) is not a change; a different value is', () => {
    const written = { conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'ok', lastTransitionTime: '2026-12-01T00:00:00Z', observedGeneration: 1 }], allocatedIPs: 2, observedGeneration: 1 };
    const readBack = { allocatedIPs: 2, conditions: [{ lastTransitionTime: '2026-12-01T00:00:00Z', message: 'ok', observedGeneration: 1, reason: 'Ready', status: 'True', type: 'Ready' }], observedGeneration: 1 };
    expect(statusChanged({ metadata: {}, status: readBack }, written)).toBe(false);
    expect(statusChanged({ metadata: {}, status: readBack }, { ...written, allocatedIPs: 3 })).toBe(true);
  });
});
