/**
 * NetworkAttachmentDefinitions: one per VxlanNetwork (same namespace and name), the object KubeVirt VMs
 * attach to. Shaped for Harvester's network webhook and NAD controller (harvester-network-controller,
 * docs/harvester-nad.md), while what plugs the VM is vxmesh's own CNI plugin:
 *
 *   {"cniVersion":"1.0.0","name":"blue","bridge":"<cluster network>-br","mtu":<uplink MTU>,
 *    "plugins":[{"type":"vxmesh-cni","vni":100,"mtu":1450,"capabilities":{"mac":true}}]}
 *
 * - A conflist has no top-level `type`, which Harvester reads as a bridge network: its validator then
 *   requires `bridge` = `<cn>-br` of an existing ClusterNetwork and `mtu` = that cluster network's uplink
 *   MTU, and its NAD controller labels it an UntaggedNetwork of the cluster network. Neither field is
 *   seen by any plugin (libcni passes plugins only their own entry): `bridge` names the cluster network
 *   the overlay rides on, `mtu` is Harvester's, which it rewrites when the cluster network's MTU changes.
 * - The plugin entry carries vxmesh's decisions: the VNI (bridge `vxb<vni>`) and the overlay MTU.
 * IPAM is vxmesh's (DHCP in the overlay), so there is none here. Pure.
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
/** The plugin's type: its executable's name in the node's CNI bin directory. */
export const CNI_TYPE = 'vxmesh-cni';
export const NAD_CNI_VERSION = '1.0.0';
/** The network type Harvester derives for the NAD's config (no type, no VLAN: untagged on its cluster network). */
export const HARVESTER_NETWORK_TYPE = 'UntaggedNetwork';

/** `<cluster network>-br`: the bridge name Harvester gives a cluster network (at most 15 characters). */
export const harvesterBridge = (clusterNetwork: string) => `${clusterNetwork}-br`;

export function nadConfig(n: VxlanNetwork, mtu: number, uplinkMtu: number): string {
  return JSON.stringify({
    cniVersion: NAD_CNI_VERSION,
    name: n.metadata.name,
    bridge: harvesterBridge(n.spec.clusterNetwork),
    mtu: uplinkMtu,
    plugins: [{ type: CNI_TYPE, vni: n.spec.vni, mtu, capabilities: { mac: true } }],
  });
}

/** The uplink MTU of a network's cluster network (its VxlanConfig's, else 1500). */
export function uplinkMtu(n: VxlanNetwork, snapshot: Snapshot): number {
  return snapshot.vxlanConfigs.find((c) => c.spec.clusterNetwork === n.spec.clusterNetwork)?.spec.uplink.linkAttributes.mtu ?? 1500;
}

/** The MTU VMs get: the network's, else the uplink MTU of its cluster network's VxlanConfig minus 50. */
export function networkMtu(n: VxlanNetwork, snapshot: Snapshot): number {
  return n.spec.mtu ?? uplinkMtu(n, snapshot) - 50;
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
          [NAD_LABELS.type]: HARVESTER_NETWORK_TYPE,
          [NAD_LABELS.clusterNetwork]: n.spec.clusterNetwork,
          [NAD_LABELS.vni]: String(n.spec.vni),
          [NAD_LABELS.managedBy]: MANAGED_BY,
        },
        ...(uid ? { ownerReferences: [{ apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanNetwork', name: n.metadata.name, uid, controller: true, blockOwnerDeletion: false }] } : {}),
      },
      spec: { config: nadConfig(n, networkMtu(n, snapshot), uplinkMtu(n, snapshot)) },
    };
  });
}

const parseConfig = (config: unknown): Record<string, unknown> | undefined => {
  try {
    const v = JSON.parse(String(config)) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
};

/** A config without its top-level `mtu`: the field Harvester owns and rewrites. */
const withoutHarvesterMtu = (c: Record<string, unknown>) => JSON.stringify({ ...c, mtu: undefined });

/** True when an existing NAD already carries the desired config (Harvester's `mtu` aside) and labels. */
export function nadUpToDate(existing: KObject, desired: KObject): boolean {
  const labels = existing.metadata.labels ?? {};
  const have = parseConfig(existing.spec?.config);
  const want = parseConfig(desired.spec.config);
  return !!have && !!want && withoutHarvesterMtu(have) === withoutHarvesterMtu(want) &&
    Object.entries(desired.metadata.labels as Record<string, string>).every(([k, v]) => labels[k] === v);
}

/**
 * The spec to write over an existing NAD: the desired one, keeping the existing top-level `mtu` (on a
 * Harvester cluster the webhook refuses a changed config whose `mtu` is not the cluster network's).
 */
export function nadSpecForUpdate(existing: KObject, desired: KObject): { config: string } {
  const have = parseConfig(existing.spec?.config);
  const want = parseConfig(desired.spec.config);
  if (!want || typeof have?.mtu !== 'number' || !Array.isArray(have.plugins)) return desired.spec as { config: string };
  return { config: JSON.stringify({ ...want, mtu: have.mtu }) };
}
