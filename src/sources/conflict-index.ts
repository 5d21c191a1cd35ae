/**
 * What cross-object checks look things up in: the resources (VNI, MAC, fixed IP, allocated IP, config
 * node selection, a namespace's network count) each accepted object holds, and — while a pass decides the
 * objects that changed — the resources their last good versions still hold (reservations), so that a new
 * version of one object can never take what an accepted version of another holds. Pure.
 */
import type { VirtualMachineInstance, VxlanConfig, VxlanIPAllocation, VxlanNetwork } from '../model/schema.js';
import { DEFAULT_NETWORKS_PER_NAMESPACE, keyOf } from '../model/schema.js';
import { vmiNics } from '../model/vmi.js';

export type Obj = { kind: string; metadata: { name: string; namespace?: string; creationTimestamp?: string } };

/** Who holds a resource: the object's id (`<kind>/<key>`), its namespace and how to name it to that namespace. */
export interface Holder {
  id: string;
  namespace?: string;
  /** e.g. `VxlanNetwork tenant-a/blue`, `tenant-a/a1 nic1` (only ever shown to its own namespace). */
  label: string;
  /** For addresses: the VM NIC (`<ns>/<vm>/<iface>`) the address belongs to. */
  nic?: string;
}

export type Table = 'vnis' | 'macs' | 'fixedIps' | 'allocIps' | 'configs' | 'nsNetworks';
type Tables = Record<Table, Map<string, Holder>>;

const newTables = (): Tables => ({ vnis: new Map(), macs: new Map(), fixedIps: new Map(), allocIps: new Map(), configs: new Map(), nsNetworks: new Map() });

export interface Accepted {
  clusterNetworks: Set<string>;
  configs: VxlanConfig[];
  networks: Map<string, VxlanNetwork>;
  held: Tables;
  /** Resources of last good versions whose object changed and is not decided yet. */
  reserved: Tables;
  /** Ids whose reservation no longer counts (decided). */
  released: Set<string>;
}

export function newAccepted(): Accepted {
  return { clusterNetworks: new Set(), configs: [], networks: new Map(), held: newTables(), reserved: newTables(), released: new Set() };
}

/** Starts deciding a new set of changed objects: their last good versions reserve what they hold. */
export function reserve(acc: Accepted, versions: Array<[string, Obj]>): void {
  acc.reserved = newTables();
  acc.released = new Set();
  for (const [id, o] of versions) for (const [t, key, h] of resourcesOf(id, o, acc)) acc.reserved[t].set(key, h);
}

/** The holder of a resource other than `self`: an accepted object, else a reservation still in force. */
export function holderOf(acc: Accepted, table: Table, key: string, self: string): Holder | undefined {
  const h = acc.held[table].get(key);
  if (h && h.id !== self) return h;
  const r = acc.reserved[table].get(key);
  return r && r.id !== self && !acc.released.has(r.id) ? r : undefined;
}

/** Networks of a (cluster network, namespace) held or reserved by objects other than `self`. */
export function networksIn(acc: Accepted, cn: string, ns: string, self: string): number {
  const prefix = `${cn}|${ns}|`;
  const ids = new Set<string>();
  for (const tables of [acc.held, acc.reserved]) {
    for (const [k, h] of tables.nsNetworks) if (k.startsWith(prefix) && h.id !== self && (tables === acc.held || !acc.released.has(h.id))) ids.add(h.id);
  }
  return ids.size;
}

/** The smallest networksPerNamespace of the accepted VxlanConfigs of a cluster network. */
export function networkLimit(acc: Accepted, cn: string): number {
  const limits = acc.configs.filter((c) => c.spec.clusterNetwork === cn).map((c) => c.spec.networksPerNamespace ?? DEFAULT_NETWORKS_PER_NAMESPACE);
  return limits.length ? Math.min(...limits) : DEFAULT_NETWORKS_PER_NAMESPACE;
}

export function admit(id: string, o: Obj, acc: Accepted): void {
  if (o.kind === 'ClusterNetwork') acc.clusterNetworks.add(o.metadata.name);
  if (o.kind === 'VxlanConfig') acc.configs.push(o as unknown as VxlanConfig);
  if (o.kind === 'VxlanNetwork') acc.networks.set(keyOf(o), o as unknown as VxlanNetwork);
  for (const [t, key, h] of resourcesOf(id, o, acc)) acc.held[t].set(key, h);
}

export const nodeSelection = (c: VxlanConfig) => `${c.spec.clusterNetwork}|${JSON.stringify(c.spec.nodeSelector)}`;

/** Every resource the object holds, as [table, key, holder]. VMI NICs count only on accepted networks. */
function resourcesOf(id: string, o: Obj, acc: Accepted): Array<[Table, string, Holder]> {
  const ns = o.metadata.namespace;
  const out: Array<[Table, string, Holder]> = [];
  if (o.kind === 'VxlanConfig') out.push(['configs', nodeSelection(o as unknown as VxlanConfig), { id, label: `VxlanConfig ${o.metadata.name}` }]);
  if (o.kind === 'VxlanNetwork') {
    const n = o as unknown as VxlanNetwork;
    const h = { id, namespace: ns, label: `VxlanNetwork ${keyOf(n)}` };
    out.push(['vnis', String(n.spec.vni), h], ['nsNetworks', `${n.spec.clusterNetwork}|${ns}|${id}`, h]);
  }
  if (o.kind === 'VirtualMachineInstance') {
    for (const nic of vmiNics(o as unknown as VirtualMachineInstance)) {
      if (!acc.networks.has(nic.network)) continue;
      const h = { id, namespace: ns, label: `${nic.vm} ${nic.iface}`, nic: `${nic.vm}/${nic.iface}` };
      if (nic.mac) out.push(['macs', `${nic.network}/${nic.mac}`, h]);
      if (nic.fixedIp) out.push(['fixedIps', `${nic.network}/${nic.fixedIp}`, h]);
    }
  }
  if (o.kind === 'VxlanIPAllocation') {
    const a = o as unknown as VxlanIPAllocation;
    out.push(['allocIps', `${a.spec.network}/${a.spec.ip}`, { id, namespace: ns, label: `${a.metadata.namespace}/${a.spec.vm} ${a.spec.interface}`, nic: `${a.metadata.namespace}/${a.spec.vm}/${a.spec.interface}` }]);
  }
  return out;
}
