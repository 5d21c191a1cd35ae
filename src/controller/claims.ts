/**
 * IP claims: the object that makes a duplicate address impossible. A VxlanIPClaim is cluster-scoped and
 * named by (network, IP), so the API server itself refuses a second claim for the same address (409
 * AlreadyExists) no matter how many controllers race. An allocation (named by VM NIC) is only written
 * after its claim is held; a claim is only removed after its allocation is gone or has moved on.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { KObject } from '../k8s/client.js';
import { VXMESH_API, ipv4, objectMeta } from '../model/schema.js';

/** The VxlanIPClaim kind (cluster-scoped; written only by the controller). */
export const ipClaimSchema = z.object({
  apiVersion: z.literal(VXMESH_API),
  kind: z.literal('VxlanIPClaim'),
  metadata: objectMeta,
  spec: z.object({
    network: z.string().min(1), // "<namespace>/<name>" of the VxlanNetwork
    ip: ipv4,
    owner: z.object({ namespace: z.string().min(1), vm: z.string().min(1), interface: z.string().min(1) }),
  }),
});

export interface ClaimOwner {
  namespace: string;
  vm: string;
  interface: string;
}

export const CLAIMED_AT = 'network.vxmesh.io/claimed-at';

/** `<netns>.<netname>.<ip>` (a namespace has no dots, an IP ends the name), hashed when too long. */
export function claimName(network: string, ip: string): string {
  const base = `${network.replace('/', '.')}.${ip}`;
  if (base.length <= 253) return base;
  return `h${createHash('sha256').update(network).digest('hex').slice(0, 40)}.${ip}`;
}

export function ownerKey(o: ClaimOwner): string {
  return `${o.namespace}/${o.vm}/${o.interface}`;
}

export function claimObject(network: string, ip: string, owner: ClaimOwner, now = new Date()): KObject {
  return {
    apiVersion: VXMESH_API,
    kind: 'VxlanIPClaim',
    metadata: { name: claimName(network, ip), annotations: { [CLAIMED_AT]: now.toISOString() } },
    spec: { network, ip, owner },
  };
}

export interface Claim {
  name: string;
  network: string;
  ip: string;
  owner: string;
  resourceVersion?: string;
  /** Last time a controller created or re-asserted it (ms). */
  touchedAt: number;
}

/** Reads a claim object; undefined when it is not well formed (left alone). */
export function readClaim(o: KObject): Claim | undefined {
  const s = o.spec;
  if (!s || typeof s.network !== 'string' || typeof s.ip !== 'string' || !s.owner) return undefined;
  const touched = Date.parse(o.metadata.annotations?.[CLAIMED_AT] ?? o.metadata.creationTimestamp ?? '');
  return {
    name: o.metadata.name, network: s.network, ip: s.ip, owner: ownerKey(s.owner),
    resourceVersion: o.metadata.resourceVersion, touchedAt: Number.isNaN(touched) ? 0 : touched,
  };
}
