/**
 * NetworkAttachmentDefinitions: one per VxlanNetwork (same namespace and name), the object KubeVirt VMs
 * attach to. Its bridge CNI config plugs the VM's tap into `vxb<vni>`, which the agent builds on every
 * member node; IPAM is vxmesh's (empty here). Labels follow Harvester's network labels. Pure.
 */
import type { KObject } from '../k8s/client.js';
import { keyOf, type Snapshot, type VxlanNetwork } from '../model/schema.js';

export const NAD_LABELS = {
  type: 'network.harvesterhci.io/type',
  clusterNetwork: 'network.harvesterhci.io/clusternetwork',
  vni: 'network.vxmesh.io/vni',
  managedBy: 'app.kubernetes.io/managed-by',
} as const;
export const MANAGED_BY = 'vxmesh-controller';

export function nadConfig(n: VxlanNetwork, mtu: number): string {
  return JSON.stringify({ cniVersion: '0.3.1', name: n.metadata.name, type: 'bridge', bridge: `vxb${n.spec.vni}`, promiscMode: true, mtu, ipam: {} });
}

/** The MTU VMs get: the network's, else the uplink MTU of its cluster network's VxlanConfig minus 50. */
export function networkMtu(n: VxlanNetwork, snapshot: Snapshot): number {
  const uplink = snapshot.vxlanConfigs.find((c) => c.spec.clusterNetwork === n.spec.clusterNetwork)?.spec.uplink.linkAttributes.mtu ?? 1500;
  return n.spec.mtu ?? uplink - 50;
}

/** Desired NADs of every valid network; `uids` (network key -> uid) adds owner references for garbage collection. */
export function desiredNads(snapshot: Snapshot, uids: Map<string, string>): KObject[] {
  return snapshot.vxlanNetworks.map((n) => {
    const uid = uids.get(keyOf(n));
    return {
      apiVersion: 'k8s.cni.cncf.io/v1',
      kind: 'NetworkAttachmentDefinition',
      metadata: {
        name: n.metadata.name,
        namespace: n.metadata.namespace,
        labels: {
          [NAD_LABELS.type]: 'OverlayNetwork',
          [NAD_LABELS.clusterNetwork]: n.spec.clusterNetwork,
          [NAD_LABELS.vni]: String(n.spec.vni),
          [NAD_LABELS.managedBy]: MANAGED_BY,
        },
        ...(uid ? { ownerReferences: [{ apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanNetwork', name: n.metadata.name, uid, controller: true, blockOwnerDeletion: false }] } : {}),
      },
      spec: { config: nadConfig(n, networkMtu(n, snapshot)) },
    };
  });
}

/** True when an existing NAD already carries the desired config and labels. */
export function nadUpToDate(existing: KObject, desired: KObject): boolean {
  const labels = existing.metadata.labels ?? {};
  return existing.spec?.config === desired.spec.config &&
    Object.entries(desired.metadata.labels as Record<string, string>).every(([k, v]) => labels[k] === v);
}
