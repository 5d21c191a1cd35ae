/**
 * An invalid MultiNetworkPolicy fails closed. A policy that does not validate and has no last good version
 * (never seen valid, or a restarted agent that lost it: see policy-store.ts) would otherwise leave the VMs
 * it was meant to guard open, so it is replaced by a deny-all stand-in, decided from what can be read:
 *  - selector parseable (spec.podSelector, default {}): the VMs it selects get deny-all;
 *    unparseable: every VM of the policy's namespace;
 *  - in the policy's directions: spec.policyTypes when that parses, else NetworkPolicy's default
 *    (Ingress, plus Egress when spec.egress is present) when policyTypes is absent, else both;
 *  - on the networks its policy-for annotation names; when any of those names does not parse (or the
 *    annotation is missing), on every network (`*`): the namespace's VMs wherever they are.
 * Replies pass as usual (stateful) and so do ARP and client DHCP, so a VM keeps its address. The stand-in
 * carries FAIL_CLOSED_ANNOTATION and is never kept as a last good version. Pure.
 */
import { FAIL_CLOSED_ANNOTATION, labelSelector, MULTI_NETWORK_POLICY_API, POLICY_FOR_ANNOTATION, type MultiNetworkPolicy } from '../model/schema.js';
import type { ObjectRef } from '../errors.js';

const NETWORK_NAME = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

const obj = (v: unknown): Record<string, any> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, any>) : {});

function directions(spec: Record<string, any>): Array<'Ingress' | 'Egress'> {
  const t = spec.policyTypes;
  if (t === undefined) return spec.egress !== undefined ? ['Ingress', 'Egress'] : ['Ingress'];
  const ok = Array.isArray(t) && t.length > 0 && t.every((x) => x === 'Ingress' || x === 'Egress');
  return ok ? [...new Set(t as Array<'Ingress' | 'Egress'>)] : ['Ingress', 'Egress'];
}

function networks(annotations: Record<string, any>): string {
  const v = annotations[POLICY_FOR_ANNOTATION];
  if (typeof v !== 'string') return '*';
  const names = v.split(',').map((x) => x.trim()).filter(Boolean);
  return names.length && names.every((n) => NETWORK_NAME.test(n)) ? names.join(', ') : '*';
}

/** The deny-all stand-in of an invalid MultiNetworkPolicy document (header). */
export function failClosedPolicy(doc: unknown, ref: ObjectRef): MultiNetworkPolicy {
  const raw = obj(doc);
  const spec = obj(raw.spec);
  const selector = labelSelector.safeParse(spec.podSelector ?? {});
  return {
    apiVersion: MULTI_NETWORK_POLICY_API,
    kind: 'MultiNetworkPolicy',
    metadata: {
      name: ref.name,
      namespace: ref.namespace ?? 'default',
      annotations: { [POLICY_FOR_ANNOTATION]: networks(obj(obj(raw.metadata).annotations)), [FAIL_CLOSED_ANNOTATION]: 'true' },
    },
    spec: { podSelector: selector.success ? selector.data : {}, policyTypes: directions(spec), ingress: [], egress: [] },
  } as MultiNetworkPolicy;
}

export const isFailClosed = (o: unknown): boolean => obj(obj(obj(o).metadata).annotations)[FAIL_CLOSED_ANNOTATION] === 'true';
