/**
 * One controller pass over the informer caches: validate (same buildSnapshot as the agent), ensure the
 * NetworkAttachmentDefinitions, persist IPAM (claims before allocations, removals after), then write
 * network status and Warning Events. Returns what it wrote so the loop can wait for its caches to catch up.
 */
import type { Logger } from 'pino';
import { apiErrorCode, errorMessage, type KObject, type KubeClient } from '../k8s/client.js';
import type { Informer } from '../k8s/informer.js';
import { RESOURCES, type ResourceRef } from '../k8s/resources.js';
import { buildSnapshot, type LastGood } from '../sources/validate.js';
import { claimObject, claimName, CLAIMED_AT, readClaim, type Claim } from './claims.js';
import { networkStatus, statusChanged, warningEvent } from './conditions.js';
import { planIpam, stoppedVmDocs } from './ipam.js';
import { desiredNads, MANAGED_BY, NAD_LABELS, nadSpecForUpdate, nadUpToDate } from './nad.js';

export interface PassContext {
  client: KubeClient;
  caches: Record<'clusterNetworks' | 'vxlanConfigs' | 'vxlanNetworks' | 'vmis' | 'vms' | 'allocations' | 'claims' | 'nads', Informer>;
  log: Logger;
  identity: string;
  lastGood: LastGood;
  claimGraceMs: number;
  concurrency: number;
  /** Messages of VMI problems already reported as Events (kept across passes, so each is sent once). */
  reported?: Set<string>;
}

export interface Written {
  resource: ResourceRef;
  namespace?: string;
  name: string;
  /** resourceVersion after our write, or undefined for a delete. */
  rv?: string;
  /** An update (not a create): the object may legitimately be gone by now. */
  existed?: boolean;
}

export interface PassResult {
  lastGood: LastGood;
  written: Written[];
  /** Something could not be done now (conflict, foreign claim): run again soon. */
  retry: boolean;
  /** Run again after this long even without events (a leftover claim's grace period ends). */
  recheckInMs?: number;
  counts: { allocationsWritten: number; allocationsDeleted: number; claimsDeleted: number; nadsWritten: number; statusWritten: number; events: number };
}

export async function reconcilePass(ctx: PassContext): Promise<PassResult> {
  const { client, caches, log } = ctx;
  const written: Written[] = [];
  const counts = { allocationsWritten: 0, allocationsDeleted: 0, claimsDeleted: 0, nadsWritten: 0, statusWritten: 0, events: 0 };
  let retry = false;
  const note = (resource: ResourceRef, o: KObject | undefined, name?: string, namespace?: string, existed = false) =>
    written.push({ resource, name: o?.metadata.name ?? name!, namespace: o?.metadata.namespace ?? namespace, rv: o?.metadata.resourceVersion, existed });
  const fail = (op: string, err: unknown, fields: Record<string, unknown> = {}) => {
    const code = apiErrorCode(err);
    if (code !== 409 && code !== 404) log.warn({ op, err: errorMessage(err), ...fields }, 'controller write failed');
    retry = true;
  };

  const vmis = caches.vmis.list();
  const vms = caches.vms.list();
  const networks = caches.vxlanNetworks.list();
  const docs = [...caches.clusterNetworks.list(), ...caches.vxlanConfigs.list(), ...networks, ...vmis, ...stoppedVmDocs(vmis, vms), ...caches.allocations.list(), ...caches.nads.list()];
  const built = buildSnapshot(docs, ctx.lastGood);
  const snapshot = built.snapshot;

  // NetworkAttachmentDefinitions.
  const uids = new Map(networks.map((n) => [`${n.metadata.namespace}/${n.metadata.name}`, n.metadata.uid as string]));
  const nadReady = new Set<string>();
  for (const nad of desiredNads(snapshot, uids)) {
    const existing = caches.nads.get(nad.metadata.name, nad.metadata.namespace);
    const key = `${nad.metadata.namespace}/${nad.metadata.name}`;
    if (existing && nadUpToDate(existing, nad)) {
      nadReady.add(key);
      continue;
    }
    try {
      const out = existing
        ? await client.replace(RESOURCES.nads, { ...existing, metadata: { ...existing.metadata, labels: { ...existing.metadata.labels, ...nad.metadata.labels }, ownerReferences: nad.metadata.ownerReferences ?? existing.metadata.ownerReferences }, spec: nadSpecForUpdate(existing, nad) })
        : await client.create(RESOURCES.nads, nad);
      note(RESOURCES.nads, out, undefined, undefined, Boolean(existing));
      nadReady.add(key);
      counts.nadsWritten++;
      log.info({ network: key, op: existing ? 'update' : 'create' }, 'network attachment definition written');
    } catch (err) {
      fail('nad', err, { network: key });
    }
  }
  for (const nad of caches.nads.list()) {
    if (nad.metadata.labels?.[NAD_LABELS.managedBy] !== MANAGED_BY || uids.has(`${nad.metadata.namespace}/${nad.metadata.name}`)) continue;
    try {
      if (await client.delete(RESOURCES.nads, nad.metadata.name, nad.metadata.namespace, nad.metadata.resourceVersion)) note(RESOURCES.nads, undefined, nad.metadata.name, nad.metadata.namespace);
    } catch (err) {
      fail('nad-delete', err);
    }
  }

  // IPAM.
  const claims = caches.claims.list().map(readClaim).filter((c): c is Claim => Boolean(c));
  const plan = planIpam({
    snapshot, allocations: caches.allocations.list(), claims, vmis, vms,
    networkKeys: new Set(uids.keys()), now: Date.now(), claimGraceMs: ctx.claimGraceMs,
  });
  const ensureClaim = async (network: string, ip: string, owner: { namespace: string; vm: string; interface: string }): Promise<boolean> => {
    const body = claimObject(network, ip, owner);
    try {
      note(RESOURCES.claims, await client.create(RESOURCES.claims, body));
      return true;
    } catch (err) {
      if (apiErrorCode(err) !== 409) throw err;
    }
    const current = await client.get(RESOURCES.claims, claimName(network, ip));
    const c = current && readClaim(current);
    if (!current || !c) return false;
    if (c.owner !== `${owner.namespace}/${owner.vm}/${owner.interface}`) {
      log.info({ network, ip, vm: `${owner.namespace}/${owner.vm}`, iface: owner.interface, owner: c.owner }, 'address claimed by another interface, choosing again');
      return false;
    }
    // Ours already (an interrupted pass): re-assert it, so a concurrent cleanup of the old version fails.
    note(RESOURCES.claims, await client.replace(RESOURCES.claims, { ...current, metadata: { ...current.metadata, annotations: { ...current.metadata.annotations, [CLAIMED_AT]: new Date().toISOString() } } }));
    return true;
  };
  await pool(plan.backfill, ctx.concurrency, async (a) => {
    try {
      if (!(await ensureClaim(a.spec.network, a.spec.ip, { namespace: a.metadata.namespace!, vm: a.spec.vm, interface: a.spec.interface }))) {
        log.warn({ network: a.spec.network, ip: a.spec.ip, vm: `${a.metadata.namespace}/${a.spec.vm}` }, 'allocation without claim collides with another claim');
        retry = true;
      }
    } catch (err) {
      fail('claim-backfill', err);
    }
  });
  await pool(plan.writes, ctx.concurrency, async ({ allocation: a, existing }) => {
    const fields = { network: a.spec.network, ip: a.spec.ip, vm: `${a.metadata.namespace}/${a.spec.vm}`, iface: a.spec.interface };
    try {
      if (!(await ensureClaim(a.spec.network, a.spec.ip, { namespace: a.metadata.namespace!, vm: a.spec.vm, interface: a.spec.interface }))) {
        retry = true;
        return;
      }
      const out = existing
        ? await client.replace(RESOURCES.allocations, { ...existing, metadata: { ...existing.metadata, labels: { ...existing.metadata.labels, ...a.metadata.labels } }, spec: a.spec })
        : await client.create(RESOURCES.allocations, a as unknown as KObject);
      note(RESOURCES.allocations, out, undefined, undefined, Boolean(existing));
      counts.allocationsWritten++;
      log.info({ ...fields, op: existing ? 'update' : 'create' }, 'address allocated');
    } catch (err) {
      fail('allocation', err, fields);
    }
  });
  await pool(plan.deletes, ctx.concurrency, async (a) => {
    try {
      if (await client.delete(RESOURCES.allocations, a.metadata.name, a.metadata.namespace, a.metadata.resourceVersion)) {
        note(RESOURCES.allocations, undefined, a.metadata.name, a.metadata.namespace);
        counts.allocationsDeleted++;
        log.info({ network: a.spec?.network, ip: a.spec?.ip, vm: `${a.metadata.namespace}/${a.spec?.vm}`, op: 'release' }, 'address released');
      }
    } catch (err) {
      fail('allocation-delete', err);
    }
  });
  await pool(plan.claimDeletes, ctx.concurrency, async (c) => {
    try {
      if (await client.delete(RESOURCES.claims, c.name, undefined, c.resourceVersion)) {
        note(RESOURCES.claims, undefined, c.name);
        counts.claimsDeleted++;
      }
    } catch (err) {
      fail('claim-delete', err);
    }
  });

  // Status conditions and Events.
  const now = new Date();
  for (const net of networks) {
    const key = `${net.metadata.namespace}/${net.metadata.name}`;
    const specError = built.errors.find((e) => e.object.kind === 'VxlanNetwork' && `${e.object.namespace}/${e.object.name}` === key)?.message;
    const exhausted = plan.errors.find((e) => e.object.kind === 'VxlanNetwork' && `${e.object.namespace}/${e.object.name}` === key)?.message;
    const allocated = caches.allocations.list().filter((a) => a.spec?.network === key).length;
    const status = networkStatus(net, { specError, exhausted, nadReady: nadReady.has(key), allocated }, now.toISOString().replace(/\.\d+Z$/, 'Z'));
    if (!statusChanged(net, status)) continue;
    const before = (type: string) => (net.status?.conditions ?? []).find((c: any) => c.type === type);
    try {
      note(RESOURCES.vxlanNetworks, await client.replaceStatus(RESOURCES.vxlanNetworks, { ...net, status }), undefined, undefined, true);
      counts.statusWritten++;
    } catch (err) {
      fail('network-status', err, { network: key });
      continue;
    }
    for (const [type, message] of [['InvalidSpec', specError], ['PoolExhausted', exhausted]] as const) {
      if (!message || (before(type)?.status === 'True' && before(type)?.message === message)) continue;
      log.warn({ network: key, reason: type, err: message }, 'network problem reported');
      try {
        await client.create(RESOURCES.events, warningEvent(net, type, message, ctx.identity, now));
        counts.events++;
      } catch (err) {
        if (apiErrorCode(err) !== 409) log.warn({ network: key, err: errorMessage(err) }, 'event write failed');
      }
    }
  }
  // A rejected VMI (a conflicting edit, a refused reference, MAC or fixed IP): a Warning Event on it,
  // naming its field, in its own namespace. Messages never name another namespace's objects.
  const vmiErrors = [...built.errors, ...plan.errors].filter((e) => e.object.kind === 'VirtualMachineInstance');
  for (const e of vmiErrors) {
    if (ctx.reported?.has(e.message)) continue;
    const raw = vmis.find((v) => v.metadata.namespace === e.object.namespace && v.metadata.name === e.object.name);
    if (!raw) continue;
    log.warn({ vm: `${e.object.namespace}/${e.object.name}`, field: e.field, err: e.message }, 'virtual machine instance rejected');
    try {
      await client.create(RESOURCES.events, warningEvent(raw, 'InvalidSpec', e.message, ctx.identity, now));
      counts.events++;
      ctx.reported?.add(e.message);
    } catch (err) {
      if (apiErrorCode(err) === 409) ctx.reported?.add(e.message);
      else log.warn({ vm: `${e.object.namespace}/${e.object.name}`, err: errorMessage(err) }, 'event write failed');
    }
  }
  if (ctx.reported) for (const m of [...ctx.reported]) if (!vmiErrors.some((e) => e.message === m)) ctx.reported.delete(m);
  return { lastGood: built.lastGood, written, retry, counts, ...(plan.recheckInMs !== undefined ? { recheckInMs: plan.recheckInMs } : {}) };
}

async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (i < items.length) await fn(items[i++]!);
  }));
}
