/**
 * Where a lab's cluster objects live: the lab plays the user (`kubectl apply`), KubeVirt (VMI status) and,
 * with the file source, the controller (IPAM). Two backends behind one narrow interface:
 *  - file: state/cluster.yaml, read by the agents' file source; statuses are files the agents write;
 *  - kubernetes: the lab's API server (real kube-apiserver + etcd), read by agents with the Kubernetes
 *    source; the real `vxmesh controller` allocates addresses; the lab applies objects like `kubectl apply
 *    --server-side --prune` (the tenants' namespaces created first), writes what KubeVirt writes (VMI
 *    status: through /status where the kind has that subresource, else as part of the object, as
 *    virt-handler does for VMIs) and waits for the controller's allocations.
 */
import { readFile } from 'node:fs/promises';
import { VxmeshError } from '../errors.js';
import { ApiextensionsV1Api, type KubeConfig } from '@kubernetes/client-node';
import { KubeClient, errorMessage, isApiError, loadKubeConfig, type KObject } from '../k8s/client.js';
import { RESOURCES, type ResourceRef } from '../k8s/resources.js';
import { ipAllocationSchema, vxlanStatusSchema, type VxlanIPAllocation, type VxlanStatus } from '../model/schema.js';
import { listYamlFiles, writeFileAtomic } from '../sources/file/files.js';
import { loadStateDir, newLoadMemory } from '../sources/file/load.js';
import { buildSnapshot } from '../sources/validate.js';
import type { Snapshot } from '../model/schema.js';
import { parseDocuments } from '../sources/validate.js';
import { objectsToYaml } from './input.js';
import { describe, serverSideApply } from './kube-apply.js';
import { sleep } from './processes.js';
import { labPaths, type LabState } from './state.js';
import { sameJson } from '../util/json.js';

const isObj = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface VmRef {
  name: string;
  namespace: string;
}

export interface LabCluster {
  /** Makes the cluster hold exactly `objects` of the kinds the user manages (what the lab wrote before and the file no longer has is removed). */
  write(objects: unknown[]): Promise<void>;
  /** The address allocations currently in the cluster. */
  allocations(): Promise<VxlanIPAllocation[]>;
  /** Every node's published status for the lab's cluster network, by node. */
  statuses(): Promise<Map<string, VxlanStatus>>;
  /** Merges `status` into a VMI's status (what virt-handler does during and after a migration). */
  updateVmiStatus(vm: VmRef, status: Record<string, unknown>): Promise<void>;
  /** Everything the agents read, validated into one snapshot as they build it (the lab's expectations come from it). */
  snapshot(): Promise<Snapshot>;
}

export function labCluster(s: LabState): LabCluster {
  return s.kube ? kubeCluster(s, loadKubeConfig({ kubeconfigYaml: s.kube.kubeconfigYaml })) : fileCluster(s);
}

const sameVmi = (d: unknown, vm: VmRef) =>
  isObj(d) && d.kind === 'VirtualMachineInstance' && d.metadata?.name === vm.name && (d.metadata?.namespace ?? 'default') === vm.namespace;

function fileCluster(s: LabState): LabCluster {
  const p = labPaths(s.lab);
  const readDocs = async (file: string) => parseDocuments(await readFile(file, 'utf8').catch(() => ''), file);
  return {
    write: (objects) => writeFileAtomic(p.cluster, objectsToYaml(objects)),
    async allocations() {
      return (await readDocs(p.cluster)).docs.map((d) => ipAllocationSchema.safeParse(d)).filter((r) => r.success).map((r) => r.data!);
    },
    async statuses() {
      const docs = [];
      for (const f of await listYamlFiles(p.statusDir, { missingOk: true })) docs.push(...(await readDocs(f)).docs);
      return statusesOf(s, docs);
    },
    async snapshot() {
      return (await loadStateDir(p.state, newLoadMemory())).snapshot;
    },
    async updateVmiStatus(vm, status) {
      const parsed = await readDocs(p.cluster);
      if (parsed.errors.length) throw parsed.errors[0]!;
      const docs = parsed.docs.map((d) => (sameVmi(d, vm) && isObj(d) ? { ...d, status: { ...(isObj(d.status) ? d.status : {}), ...status } } : d));
      await writeFileAtomic(p.cluster, objectsToYaml(docs));
    },
  };
}

function statusesOf(s: LabState, docs: unknown[]): Map<string, VxlanStatus> {
  const out = new Map<string, VxlanStatus>();
  for (const d of docs) {
    const r = vxlanStatusSchema.safeParse(d);
    if (r.success && r.data.status.clusterNetwork === s.clusterNetwork) out.set(r.data.status.node, r.data);
  }
  return out;
}

/** Kinds the lab applies and prunes, in creation order; everything else is written by vxmesh itself. */
const USER_KINDS: ResourceRef[] = [
  RESOURCES.namespaces, RESOURCES.nodes, RESOURCES.clusterNetworks, RESOURCES.vxlanConfigs, RESOURCES.vxlanNetworks,
  RESOURCES.policies, RESOURCES.vms, RESOURCES.vmis,
];

/** An object of the lab file the lab's API server cannot take, or a VMI it does not have. */
export class LabObjectError extends VxmeshError {
  constructor(message: string) {
    super('LAB_OBJECT', message);
  }
}

/** Marks what the lab applied, so that pruning never touches objects anybody else created. */
export const LAB_LABEL = 'lab.vxmesh.io/name';

/** The user's field manager (`kubectl apply --server-side --field-manager`). */
const MANAGER = 'vxmesh-lab';

const keyOf = (o: KObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/** One object to apply: what the user applies (no status) and, apart, the status KubeVirt would write. */
export interface PlannedObject {
  res: ResourceRef;
  object: KObject;
  status?: Record<string, unknown>;
}

/**
 * Pure: the lab file's objects as the lab applies them, in creation order: labelled with the lab, in
 * `default` unless they name a namespace, every namespace they use created first (those the file declares
 * with their labels, the others bare), statuses apart. Allocations are left out (the controller's job).
 */
export function planApply(lab: string, objects: unknown[]): PlannedObject[] {
  const planned: PlannedObject[] = [];
  for (const o of objects as KObject[]) {
    if (o.kind === 'VxlanIPAllocation') continue;
    const res = USER_KINDS.find((r) => r.kind === o.kind);
    if (!res) throw new LabObjectError(`${describe(o)}: kind ${o.kind} is not served by the lab's API server (kinds: ${USER_KINDS.map((r) => r.kind).join(', ')})`);
    const { status, ...rest } = o;
    const metadata = { ...o.metadata, labels: { ...o.metadata.labels, [LAB_LABEL]: lab }, ...(res.namespaced ? { namespace: o.metadata.namespace ?? 'default' } : {}) };
    planned.push({ res, object: { ...rest, metadata }, ...(isObj(status) ? { status } : {}) });
  }
  const declared = new Set(planned.filter((p) => p.res === RESOURCES.namespaces).map((p) => p.object.metadata.name));
  const used = [...new Set(planned.filter((p) => p.res.namespaced).map((p) => p.object.metadata.namespace as string))].filter((n) => !declared.has(n) && n !== 'default');
  for (const name of used.sort()) planned.push({ res: RESOURCES.namespaces, object: { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { [LAB_LABEL]: lab } } } });
  return USER_KINDS.flatMap((r) => planned.filter((p) => p.res === r));
}

/** Pure: `status` has nothing `live` does not already say. */
export const statusHeld = (live: unknown, status: Record<string, unknown>) =>
  isObj(live) && Object.entries(status).every(([k, v]) => sameJson(live[k], v));

/**
 * Deletes one pruned object. A VxlanNetwork whose VMs were pruned just before is refused by the admission
 * policy vxmesh-network-in-use until the controller has released their addresses: the delete is retried
 * for up to `waitMs`, then the policy's refusal is the error.
 */
async function pruneOne(client: KubeClient, res: ResourceRef, live: KObject, waitMs = 30_000): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      await client.delete(res, live.metadata.name, live.metadata.namespace);
      return;
    } catch (err) {
      const inUse = res === RESOURCES.vxlanNetworks && isApiError(err, 403) && errorMessage(err).includes('vxmesh-network-in-use');
      if (!inUse || Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}

function kubeCluster(s: LabState, kc: KubeConfig): LabCluster {
  const client = new KubeClient(kc);
  const crds = kc.makeApiClient(ApiextensionsV1Api);
  const subresource = new Map<ResourceRef, Promise<boolean>>();
  /** Whether the kind's CRD has a status subresource (then status is written only through /status). */
  const hasStatusSubresource = (res: ResourceRef) => {
    if (!res.group) return Promise.resolve(false);
    if (!subresource.has(res)) {
      subresource.set(res, crds.readCustomResourceDefinition({ name: `${res.plural}.${res.group}` })
        .then((crd) => !!crd.spec.versions.find((v) => v.name === res.version)?.subresources?.status));
    }
    return subresource.get(res)!;
  };
  /** Merges `status` into the object's status, read-modify-write with its resourceVersion (409: again). */
  const writeStatus = async (res: ResourceRef, name: string, namespace: string | undefined, status: Record<string, unknown>) => {
    const viaSubresource = await hasStatusSubresource(res);
    for (let attempt = 0; ; attempt++) {
      const live = await client.get(res, name, namespace);
      if (!live) throw new LabObjectError(`${res.kind} ${namespace ? `${namespace}/` : ''}${name} is not in the lab's API server`);
      if (statusHeld(live.status, status)) return;
      const body = { ...live, status: { ...(isObj(live.status) ? live.status : {}), ...status } };
      try {
        await (viaSubresource ? client.replaceStatus(res, body) : client.replace(res, body));
        return;
      } catch (err) {
        if (!isApiError(err, 409) || attempt >= 5) throw err;
        await sleep(50);
      }
    }
  };
  return {
    async write(objects) {
      const plan = planApply(s.lab, objects);
      const apply = serverSideApply(kc, MANAGER);
      for (const p of plan) {
        await apply([p]);
        try {
          if (p.status) await writeStatus(p.res, p.object.metadata.name, p.object.metadata.namespace, p.status);
        } catch (err) {
          throw new LabObjectError(`${describe(p.object)}: its status was refused: ${errorMessage(err)}`);
        }
      }
      // Prune in reverse order (VMIs before their networks): what the lab applied and the file no longer has.
      // Never a namespace: without kube-controller-manager a deleted namespace stays Terminating for good.
      for (const res of [...USER_KINDS].reverse()) {
        if (res === RESOURCES.namespaces) continue;
        const want = new Set(plan.filter((p) => p.res === res).map((p) => keyOf(p.object)));
        for (const live of (await client.list(res)).items) {
          if (live.metadata.labels?.[LAB_LABEL] === s.lab && !want.has(keyOf(live))) await pruneOne(client, res, live);
        }
      }
    },
    async allocations() {
      return (await client.list(RESOURCES.allocations)).items.map((d) => ipAllocationSchema.safeParse(d)).filter((r) => r.success).map((r) => r.data!);
    },
    async statuses() {
      return statusesOf(s, (await client.list(RESOURCES.statuses)).items);
    },
    async updateVmiStatus(vm, status) {
      await writeStatus(RESOURCES.vmis, vm.name, vm.namespace, status);
    },
    async snapshot() {
      const docs: KObject[] = [];
      for (const res of [...USER_KINDS, RESOURCES.allocations, RESOURCES.statuses]) docs.push(...(await client.list(res)).items);
      return buildSnapshot(docs).snapshot;
    },
  };
}
