/** The API resources vxmesh reads and writes, by REST coordinates. */
export interface ResourceRef {
  /** '' = core (/api/v1). */
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
}

const r = (group: string, version: string, plural: string, kind: string, namespaced: boolean): ResourceRef => ({ group, version, plural, kind, namespaced });

export const RESOURCES = {
  nodes: r('', 'v1', 'nodes', 'Node', false),
  namespaces: r('', 'v1', 'namespaces', 'Namespace', false),
  events: r('', 'v1', 'events', 'Event', true),
  leases: r('coordination.k8s.io', 'v1', 'leases', 'Lease', true),
  clusterNetworks: r('network.harvesterhci.io', 'v1beta1', 'clusternetworks', 'ClusterNetwork', false),
  vxlanConfigs: r('network.vxmesh.io', 'v1alpha1', 'vxlanconfigs', 'VxlanConfig', false),
  vxlanNetworks: r('network.vxmesh.io', 'v1alpha1', 'vxlannetworks', 'VxlanNetwork', true),
  allocations: r('network.vxmesh.io', 'v1alpha1', 'vxlanipallocations', 'VxlanIPAllocation', true),
  claims: r('network.vxmesh.io', 'v1alpha1', 'vxlanipclaims', 'VxlanIPClaim', false),
  statuses: r('network.vxmesh.io', 'v1alpha1', 'vxlanstatuses', 'VxlanStatus', false),
  vmis: r('kubevirt.io', 'v1', 'virtualmachineinstances', 'VirtualMachineInstance', true),
  vms: r('kubevirt.io', 'v1', 'virtualmachines', 'VirtualMachine', true),
  nads: r('k8s.cni.cncf.io', 'v1', 'network-attachment-definitions', 'NetworkAttachmentDefinition', true),
  policies: r('k8s.cni.cncf.io', 'v1beta1', 'multi-networkpolicies', 'MultiNetworkPolicy', true),
} as const;

export function apiVersionOf(res: ResourceRef): string {
  return res.group ? `${res.group}/${res.version}` : res.version;
}

/** Collection path across all namespaces (what informers watch). */
export function collectionPath(res: ResourceRef, namespace?: string): string {
  const base = res.group ? `/apis/${res.group}/${res.version}` : `/api/${res.version}`;
  return namespace && res.namespaced ? `${base}/namespaces/${namespace}/${res.plural}` : `${base}/${res.plural}`;
}
