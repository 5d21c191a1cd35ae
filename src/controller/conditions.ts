/**
 * VxlanNetwork status: conditions Ready, InvalidSpec and PoolExhausted (metav1.Condition shape, transition
 * times kept while a condition's status stays), the number of allocated addresses, and the Warning Events
 * an invalid spec or an exhausted pool produces. Pure.
 */
import { createHash } from 'node:crypto';
import type { KObject } from '../k8s/client.js';
import { nextCondition, type Condition as ModelCondition } from '../model/conditions.js';
import { sameJson } from '../util/json.js';

export type Condition = ModelCondition<'Ready' | 'InvalidSpec' | 'PoolExhausted'>;

export interface NetworkFacts {
  /** Validation problem of the current spec (the last good spec may still be in force). */
  specError?: string;
  exhausted?: string;
  nadReady: boolean;
  allocated: number;
}

export function networkStatus(net: KObject, facts: NetworkFacts, now: string): { conditions: Condition[]; allocatedIPs: number; observedGeneration?: number } {
  const previous: Condition[] = Array.isArray(net.status?.conditions) ? net.status.conditions : [];
  const generation: number | undefined = net.metadata.generation;
  const cond = (type: Condition['type'], ok: boolean, reason: string, message: string): Condition =>
    nextCondition(previous, { type, ok, reason, message, observedGeneration: generation }, now);
  const ready = !facts.specError && !facts.exhausted && facts.nadReady;
  const readyReason = facts.specError ? 'InvalidSpec' : facts.exhausted ? 'PoolExhausted' : facts.nadReady ? 'Ready' : 'AttachmentPending';
  const readyMessage = facts.specError ?? facts.exhausted ?? (facts.nadReady ? 'NetworkAttachmentDefinition and address pool are ready' : 'waiting for the NetworkAttachmentDefinition');
  return {
    conditions: [
      cond('Ready', ready, readyReason, readyMessage),
      cond('InvalidSpec', Boolean(facts.specError), facts.specError ? 'InvalidSpec' : 'Valid', facts.specError ?? 'spec is valid'),
      cond('PoolExhausted', Boolean(facts.exhausted), facts.exhausted ? 'PoolExhausted' : 'AddressesAvailable', facts.exhausted ?? 'addresses are available'),
    ],
    allocatedIPs: facts.allocated,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
}

/** True when writing `next` would change what the object's status says. */
export function statusChanged(net: KObject, next: unknown): boolean {
  return !sameJson(net.status ?? {}, next);
}

/** A core/v1 Warning Event about a VxlanNetwork (or a VMI); the name is derived from (uid, reason, message), so a repeat is a 409, not a duplicate. */
export function warningEvent(net: KObject, reason: string, message: string, reporter: string, now: Date): KObject {
  const hash = createHash('sha256').update(`${net.metadata.uid}|${reason}|${message}`).digest('hex').slice(0, 12);
  const ts = now.toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${net.metadata.name}.${hash}`, namespace: net.metadata.namespace },
    involvedObject: {
      apiVersion: net.apiVersion, kind: net.kind, name: net.metadata.name, namespace: net.metadata.namespace,
      uid: net.metadata.uid, resourceVersion: net.metadata.resourceVersion,
    },
    reason, message, type: 'Warning', count: 1,
    firstTimestamp: ts, lastTimestamp: ts,
    source: { component: 'vxmesh-controller' },
    reportingComponent: 'vxmesh-controller', reportingInstance: reporter,
  };
}
