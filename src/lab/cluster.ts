/**
 * Where a lab's cluster objects live: the lab plays the user (`kubectl apply`), KubeVirt (VMI status) and,
 * with the file source, the controller (IPAM). Two backends behind one narrow interface:
 *  - file: state/cluster.yaml, read by the agents' file source; statuses are files the agents write;
 *  - kubernetes: the lab's API server (the double), read by agents with the Kubernetes source; the real
 *    `vxmesh controller` allocates addresses; the lab creates, updates and prunes objects like `kubectl
 *    apply --prune` and waits for the controller's allocations.
 */
import { readFile } from 'node:fs/promises';
import { VxmeshError } from '../errors.js';
import { KubeClient, errorMessage, isApiError, loadKubeConfig, type KObject } from '../k8s/client.js';
import { RESOURCES, type ResourceRef } from '../k8s/resources.js';
import { ipAllocationSchema, vxlanStatusSchema, type VxlanIPAllocation, type VxlanStatus } from '../model/schema.js';
import { listYamlFiles, writeFileAtomic } from '../sources/file/files.js';
import { parseDocuments } from '../sources/validate.js';
import { objectsToYaml } from './input.js';
import { sleep } from './processes.js';
import { labPaths, type LabState } from './state.js';

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
}

export function labCluster(s: LabState): LabCluster {
  return s.kube ? kubeCluster(s, new KubeClient(loadKubeConfig({ kubeconfigYaml: s.kube.kubeconfigYaml }))) : fileCluster(s);
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

/** `kind namespace/name` for messages. */
const ref = (o: KObject) => `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
const keyOf = (o: KObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/** The desired object's fields differ from the live one (server-set metadata and unset fields ignored). */
export function differs(desired: KObject, live: KObject): boolean {
  const pick = (o: KObject) => ({ labels: o.metadata.labels ?? {}, annotations: o.metadata.annotations ?? {} });
  if (JSON.stringify(pick(desired)) !== JSON.stringify(pick(live))) return true;
  return Object.keys(desired).some((k) => !['apiVersion', 'kind', 'metadata'].includes(k) && JSON.stringify(desired[k]) !== JSON.stringify(live[k]));
}

function kubeCluster(s: LabState, client: KubeClient): LabCluster {
  return {
    async write(objects) {
      const byRes = new Map<ResourceRef, KObject[]>(USER_KINDS.map((r) => [r, []]));
      for (const o of objects as KObject[]) {
        if (o.kind === 'VxlanIPAllocation') continue; // the controller's job
        const res = USER_KINDS.find((r) => r.kind === o.kind);
        if (!res) throw new LabObjectError(`${ref(o)}: kind ${o.kind} is not served by the lab's API server (kinds: ${USER_KINDS.map((r) => r.kind).join(', ')})`);
        const metadata = { ...o.metadata, labels: { ...o.metadata.labels, [LAB_LABEL]: s.lab }, ...(res.namespaced ? { namespace: o.metadata.namespace ?? 'default' } : {}) };
        byRes.get(res)!.push({ ...o, metadata });
      }
      for (const res of USER_KINDS) {
        for (const o of byRes.get(res)!) {
          try {
            const live = await client.get(res, o.metadata.name, o.metadata.namespace);
            if (!live) await client.create(res, o);
            else if (differs(o, live)) {
              const status = res === RESOURCES.vmis && isObj(o.status) ? { status: { ...(live.status ?? {}), ...o.status } } : {};
              await client.replace(res, { ...o, ...status, metadata: { ...live.metadata, labels: o.metadata.labels, annotations: o.metadata.annotations } });
            }
          } catch (err) {
            throw new LabObjectError(`${ref(o)}: the lab's API server refused it: ${errorMessage(err)}`);
          }
        }
      }
      // Prune in reverse order (VMIs before their networks): what the lab applied and the file no longer has.
      for (const res of [...USER_KINDS].reverse()) {
        const want = new Set(byRes.get(res)!.map(keyOf));
        for (const live of (await client.list(res)).items) {
          if (live.metadata.labels?.[LAB_LABEL] === s.lab && !want.has(keyOf(live))) await client.delete(res, live.metadata.name, live.metadata.namespace);
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
      // Read-modify-write with the resourceVersion: retry on 409 like any controller.
      for (let attempt = 0; ; attempt++) {
        const live = await client.get(RESOURCES.vmis, vm.name, vm.namespace);
        if (!live) throw new LabObjectError(`VirtualMachineInstance ${vm.namespace}/${vm.name} is not in the lab's API server`);
        try {
          await client.replace(RESOURCES.vmis, { ...live, status: { ...(live.status ?? {}), ...status } });
          return;
        } catch (err) {
          if (!isApiError(err, 409) || attempt >= 5) throw err;
          await sleep(50);
        }
      }
    },
  };
}
