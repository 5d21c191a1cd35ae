import { describe, expect, it } from 'vitest';
import { networkStatus, statusChanged } from '../../src/controller/conditions.js';
import { canonicalJson, sameContent } from '../../src/k8s/equal.js';

/** What the API server sends back: a custom resource's fields in alphabetical order, at every level. */
const serverOrder = (v: unknown): unknown => JSON.parse(JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort()) : x)));

describe('comparing API objects by content', () => {
  it('ignores the order of keys at every level, not the order of array items', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { y: 1, x: 2 }], c: 3 } })).toBe('{"a":{"c":3,"d":[2,{"x":2,"y":1}]},"b":1}');
    expect(sameContent({ a: 1, b: { c: 2, d: 3 } }, { b: { d: 3, c: 2 }, a: 1 })).toBe(true);
    expect(sameContent([1, 2], [2, 1])).toBe(false);
    expect(sameContent({ a: 1 }, { a: 2 })).toBe(false);
    expect(sameContent({ a: 1, b: undefined }, { a: 1 })).toBe(true);
  });

  it('sees no status change in the same VxlanNetwork status read back from the server (which sorts its fields)', () => {
    const net = { apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanNetwork', metadata: { name: 'blue', namespace: 'a', generation: 1 }, spec: {} };
    const status = networkStatus(net, { nadReady: true, allocated: 1 }, '2026-01-01T00:00:00Z');
    const stored = { ...net, status: serverOrder(status) };
    expect(JSON.stringify(stored.status)).not.toBe(JSON.stringify(status)); // the server's order is another
    expect(statusChanged(stored, networkStatus(stored, { nadReady: true, allocated: 1 }, '2026-01-01T00:00:05Z'))).toBe(false);
    // Positive control: a real change is one.
    expect(statusChanged(stored, networkStatus(stored, { nadReady: true, allocated: 2 }, '2026-01-01T00:00:05Z'))).toBe(true);
  });
});
