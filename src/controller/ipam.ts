/**
 * Controller IPAM planning. Pure: from the validated snapshot and the raw caches, decides which claims and
 * allocations to write and which to remove. allocate() decides the addresses; this step makes it aware of
 * claims (addresses held by others or by an interrupted write) and protects allocations allocate() does
 * not speak for (a network that is currently invalid, a VM that is stopped): an allocation is removed only
 * when its VM (VMI and VirtualMachine), its interface or its network is really gone.
 */
import { allocate, allocationName } from '../ipam/allocate.js';
import type { InvalidSpecError } from '../errors.js';
import type { KObject } from '../k8s/client.js';
import { VXMESH_API, keyOf, vmiSchema, type Snapshot, type VirtualMachineInstance, type VxlanIPAllocation } from '../model/schema.js';
import { vmiNics } from '../model/vmi.js';
import type { Claim } from './claims.js';

export interface IpamInput {
  snapshot: Snapshot;
  /** Every VxlanIPAllocation in the cache (also ones validation rejected). */
  allocations: KObject[];
  claims: Claim[];
  /** Raw VMIs and VirtualMachines in the cache. */
  vmis: KObject[];
  vms: KObject[];
  /** Keys of every VxlanNetwork object that exists (valid or not). */
  networkKeys: Set<string>;
  now: number;
  /** Claims not backed by an allocation are kept this long (in-flight writes of another controller). */
  claimGraceMs: number;
}

export interface IpamPlan {
  /** Allocations to create or update, each after ensuring its claim. */
  writes: Array<{ allocation: VxlanIPAllocation; existing?: KObject }>;
  /** Allocations that stay as they are but whose claim is missing (written by an older controller). */
  backfill: VxlanIPAllocation[];
  /** Allocations to delete (their claims follow in claimDeletes). */
  deletes: KObject[];
  claimDeletes: Claim[];
  errors: InvalidSpecError[];
  /** When a leftover claim's grace period ends (ms from now): run again then to remove it. */
  recheckInMs?: number;
}

const nicKey = (ns: string, vm: string, iface: string) => `${ns}/${vm}/${iface}`;

export function planIpam(input: IpamInput): IpamPlan {
  const { snapshot } = input;
  const rawAllocs = new Map(input.allocations.map((a) => [`${a.metadata.namespace}/${a.metadata.name}`, a]));
  const snapAllocByNic = new Map(snapshot.allocations.map((a) => [nicKey(a.metadata.namespace!, a.spec.vm, a.spec.interface), a]));
  const vmiKeys = new Set(snapshot.vmis.map((v) => keyOf(v)));

  // Make allocate() claim-aware: an interrupted write's claim becomes that NIC's allocation, any other
  // claimed address is excluded from the pool.
  const excluded = new Map<string, string[]>();
  const placeholders: VxlanIPAllocation[] = [];
  for (const c of input.claims) {
    const mine = snapAllocByNic.get(c.owner);
    if (mine && mine.spec.network === c.network && mine.spec.ip === c.ip) continue;
    const [ns, vm, iface] = c.owner.split('/') as [string, string, string];
    if (!mine && vmiKeys.has(`${ns}/${vm}`) && !placeholders.some((p) => nicKey(ns, p.spec.vm, p.spec.interface) === c.owner)) {
      placeholders.push({ apiVersion: VXMESH_API, kind: 'VxlanIPAllocation', metadata: { name: allocationName(vm, iface), namespace: ns }, spec: { network: c.network, vm, interface: iface, ip: c.ip } });
      continue;
    }
    excluded.set(c.network, [...(excluded.get(c.network) ?? []), c.ip]);
  }
  const result = allocate({
    ...snapshot,
    vxlanNetworks: snapshot.vxlanNetworks.map((n) => {
      const extra = excluded.get(keyOf(n));
      return extra ? { ...n, spec: { ...n.spec, excludeIPs: [...n.spec.excludeIPs, ...extra] } } : n;
    }),
    allocations: [...snapshot.allocations, ...placeholders],
  });

  const writes: IpamPlan['writes'] = [];
  const desiredNames = new Set<string>();
  for (const a of result.allocations) {
    const key = `${a.metadata.namespace}/${a.metadata.name}`;
    desiredNames.add(key);
    const existing = rawAllocs.get(key);
    if (!existing || !sameSpec(existing, a)) writes.push({ allocation: a, ...(existing ? { existing } : {}) });
  }

  const deletes: KObject[] = [];
  for (const [key, a] of rawAllocs) {
    if (desiredNames.has(key)) continue;
    if (nicGone(a, input)) deletes.push(a);
  }

  // Claims: keep those backing an allocation (current or about to be written); drop the others — at once
  // when this plan removed or moved the allocation, else after the grace period.
  const backing = new Set<string>();
  const nicIp = (network: string, ip: string, owner: string) => `${network}|${ip}|${owner}`;
  const deleted = new Set(deletes.map((a) => nicKey(a.metadata.namespace, a.spec?.vm, a.spec?.interface)));
  for (const a of rawAllocs.values()) if (!deleted.has(nicKey(a.metadata.namespace, a.spec?.vm, a.spec?.interface))) backing.add(nicIp(a.spec?.network, a.spec?.ip, nicKey(a.metadata.namespace, a.spec?.vm, a.spec?.interface)));
  for (const w of writes) backing.add(nicIp(w.allocation.spec.network, w.allocation.spec.ip, nicKey(w.allocation.metadata.namespace!, w.allocation.spec.vm, w.allocation.spec.interface)));
  const moved = new Set(writes.filter((w) => w.existing).map((w) => nicKey(w.allocation.metadata.namespace!, w.allocation.spec.vm, w.allocation.spec.interface)));
  let recheckInMs: number | undefined;
  const claimDeletes = input.claims.filter((c) => {
    if (backing.has(nicIp(c.network, c.ip, c.owner))) return false;
    if (deleted.has(c.owner) || moved.has(c.owner)) return true;
    if (placeholders.some((p) => nicKey(p.metadata.namespace!, p.spec.vm, p.spec.interface) === c.owner)) return false;
    const left = input.claimGraceMs - (input.now - c.touchedAt);
    if (left < 0) return true;
    recheckInMs = Math.min(recheckInMs ?? Infinity, left + 50);
    return false;
  });
  const claimed = new Set(input.claims.map((c) => nicIp(c.network, c.ip, c.owner)));
  const written = new Set(writes.map((w) => w.allocation));
  const backfill = result.allocations.filter((a) => !written.has(a) && !claimed.has(nicIp(a.spec.network, a.spec.ip, nicKey(a.metadata.namespace!, a.spec.vm, a.spec.interface))));
  return { writes, backfill, deletes, claimDeletes, errors: result.errors, ...(recheckInMs !== undefined ? { recheckInMs } : {}) };
}

function sameSpec(existing: KObject, desired: VxlanIPAllocation): boolean {
  const s = existing.spec ?? {};
  const d = desired.spec;
  return s.network === d.network && s.vm === d.vm && s.interface === d.interface && s.ip === d.ip && (s.mac ?? undefined) === (d.mac ?? undefined);
}

/** The NICs (interface -> network) the VM currently has: from its VMI, else from its VirtualMachine's template. */
function nicsOf(ns: string, vm: string, input: IpamInput): Map<string, string> | 'unknown' | undefined {
  const raw = input.vmis.find((v) => v.metadata.namespace === ns && v.metadata.name === vm) ?? vmTemplate(input.vms.find((v) => v.metadata.namespace === ns && v.metadata.name === vm));
  if (!raw) return undefined;
  const parsed = vmiSchema.safeParse({ ...raw, apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance' });
  if (!parsed.success) return 'unknown';
  return new Map(vmiNics(parsed.data).map((n) => [n.iface, n.network]));
}

function nicGone(a: KObject, input: IpamInput): boolean {
  const s = a.spec ?? {};
  if (!input.networkKeys.has(s.network)) return true;
  const nics = nicsOf(a.metadata.namespace, s.vm, input);
  if (nics === 'unknown') return false;
  return !nics || nics.get(s.interface) !== s.network;
}

/** A VirtualMachine's template as a VMI-shaped object (a stopped VM keeps its addresses). */
export function vmTemplate(vm: KObject | undefined): KObject | undefined {
  if (!vm?.spec?.template?.spec) return undefined;
  return {
    apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance',
    metadata: { name: vm.metadata.name, namespace: vm.metadata.namespace, annotations: vm.spec.template.metadata?.annotations ?? {}, creationTimestamp: vm.metadata.creationTimestamp },
    spec: vm.spec.template.spec,
    status: {},
  };
}

/** VMI docs for VirtualMachines without a running VMI, so allocate() keeps (or pre-assigns) their addresses. */
export function stoppedVmDocs(vmis: KObject[], vms: KObject[]): KObject[] {
  const running = new Set(vmis.map((v) => `${v.metadata.namespace}/${v.metadata.name}`));
  return vms.filter((v) => !running.has(`${v.metadata.namespace}/${v.metadata.name}`)).map(vmTemplate).filter((x): x is KObject => Boolean(x));
}

export type { VirtualMachineInstance };
