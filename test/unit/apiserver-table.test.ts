import { describe, expect, it } from 'vitest';
import { age, jsonPath, toTable, wantsTable } from '../../src/testing/apiserver/table.js';

describe("API double's server-side printing", () => {
  it('recognises kubectl\'s Table request', () => {
    expect(wantsTable('application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json')).toBe(true);
    expect(wantsTable('application/json')).toBe(false);
    expect(wantsTable(undefined)).toBe(false);
  });

  it('evaluates the JSONPath of printer columns, filters included', () => {
    const o = { spec: { vni: 100 }, status: { conditions: [{ type: 'Other', status: 'False' }, { type: 'Ready', status: 'True' }] } };
    expect(jsonPath(o, '.spec.vni')).toBe(100);
    expect(jsonPath(o, '.status.conditions[?(@.type=="Ready")].status')).toBe('True');
    expect(jsonPath(o, '.status.missing.deeper')).toBeUndefined();
  });

  it('formats ages like kubectl', () => {
    const now = Date.parse('2026-01-02T00:00:00Z');
    expect(age('2026-01-01T23:59:15Z', now)).toBe('45s');
    expect(age('2026-01-01T23:00:00Z', now)).toBe('60m');
    expect(age('2026-01-01T00:00:00Z', now)).toBe('24h');
    expect(age('2025-12-01T00:00:00Z', now)).toBe('32d');
    expect(age(undefined, now)).toBe('<unknown>');
  });

  it("answers a VxlanNetwork list with the CRD's columns, other kinds with Name and Age", () => {
    const net = { metadata: { name: 'blue', namespace: 'tenant-a', creationTimestamp: new Date().toISOString() }, spec: { vni: 100, cidr: '10.10.0.0/24', clusterNetwork: 'overlay' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } };
    const t = toTable('vxlannetworks', [net]) as any;
    expect(t.columnDefinitions.map((c: any) => c.name)).toEqual(['Name', 'VNI', 'CIDR', 'Cluster Network', 'Ready', 'IPs', 'Age']);
    expect(t.rows[0].cells.slice(0, 5)).toEqual(['blue', 100, '10.10.0.0/24', 'overlay', 'True']);
    expect(t.rows[0].object.metadata.namespace).toBe('tenant-a');
    expect((toTable('daemonsets', [net]) as any).columnDefinitions.map((c: any) => c.name)).toEqual(['Name', 'Age']);
  });
});
