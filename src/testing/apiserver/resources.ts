/**
 * The resources the API-server double serves: the kinds vxmesh reads and writes, with their REST paths.
 * Unknown paths answer 404 exactly like an API server without the CRD installed.
 */
export interface ResourceDef {
  /** '' for the core group (served under /api/v1). */
  group: string;
  version: string;
  plural: string;
  kind: string;
  namespaced: boolean;
  /** The status subresource is enabled: the main endpoint ignores status, /status ignores everything else. */
  status: boolean;
  /** Built-in kinds omit apiVersion/kind on list items; custom resources (unstructured) keep them. */
  builtin: boolean;
  /** For discovery (kubectl get vxn, ds, …). */
  shortNames?: string[];
}

/** Short names as the real API server (built-ins) and vxmesh's CRDs announce them. */
const SHORT: Record<string, string[]> = {
  nodes: ['no'], namespaces: ['ns'], events: ['ev'], serviceaccounts: ['sa'], daemonsets: ['ds'], deployments: ['deploy'],
  customresourcedefinitions: ['crd', 'crds'], vxlanconfigs: ['vxc'], vxlannetworks: ['vxn'], vxlanipallocations: ['vxip'],
  vxlanstatuses: ['vxs'], virtualmachineinstances: ['vmi', 'vmis'], virtualmachines: ['vm', 'vms'],
  'network-attachment-definitions': ['net-attach-def'], 'multi-networkpolicies': ['multi-policy'],
};

export function apiVersionOf(r: ResourceDef): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

export function resourceId(r: { group: string; version: string; plural: string }): string {
  return `${r.group}/${r.version}/${r.plural}`;
}

const def = (group: string, version: string, plural: string, kind: string, namespaced: boolean, status: boolean, builtin = false): ResourceDef =>
  ({ group, version, plural, kind, namespaced, status, builtin, ...(SHORT[plural] ? { shortNames: SHORT[plural] } : {}) });

/** Everything a vxmesh cluster has: core, coordination, Harvester, KubeVirt, Multus and vxmesh's own CRDs. */
export const DEFAULT_RESOURCES: ResourceDef[] = [
  def('', 'v1', 'nodes', 'Node', false, true, true),
  def('', 'v1', 'namespaces', 'Namespace', false, true, true),
  def('', 'v1', 'events', 'Event', true, false, true),
  def('coordination.k8s.io', 'v1', 'leases', 'Lease', true, false, true),
  // What `kubectl apply -k deploy/` installs (stored and served like any object, nothing acts on them).
  def('', 'v1', 'serviceaccounts', 'ServiceAccount', true, false, true),
  def('apps', 'v1', 'daemonsets', 'DaemonSet', true, true, true),
  def('apps', 'v1', 'deployments', 'Deployment', true, true, true),
  def('rbac.authorization.k8s.io', 'v1', 'clusterroles', 'ClusterRole', false, false, true),
  def('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings', 'ClusterRoleBinding', false, false, true),
  def('rbac.authorization.k8s.io', 'v1', 'roles', 'Role', true, false, true),
  def('rbac.authorization.k8s.io', 'v1', 'rolebindings', 'RoleBinding', true, false, true),
  def('apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'CustomResourceDefinition', false, true, true),
  def('admissionregistration.k8s.io', 'v1', 'validatingadmissionpolicies', 'ValidatingAdmissionPolicy', false, true, true),
  def('admissionregistration.k8s.io', 'v1', 'validatingadmissionpolicybindings', 'ValidatingAdmissionPolicyBinding', false, false, true),
  def('network.harvesterhci.io', 'v1beta1', 'clusternetworks', 'ClusterNetwork', false, true),
  def('network.vxmesh.io', 'v1alpha1', 'vxlanconfigs', 'VxlanConfig', false, true),
  def('network.vxmesh.io', 'v1alpha1', 'vxlannetworks', 'VxlanNetwork', true, true),
  def('network.vxmesh.io', 'v1alpha1', 'vxlanipallocations', 'VxlanIPAllocation', true, false),
  def('network.vxmesh.io', 'v1alpha1', 'vxlanipclaims', 'VxlanIPClaim', false, false),
  def('network.vxmesh.io', 'v1alpha1', 'vxlanstatuses', 'VxlanStatus', false, true),
  // KubeVirt's VMI CRD has no status subresource: virt-handler updates the whole object.
  def('kubevirt.io', 'v1', 'virtualmachineinstances', 'VirtualMachineInstance', true, false),
  def('kubevirt.io', 'v1', 'virtualmachines', 'VirtualMachine', true, true),
  def('k8s.cni.cncf.io', 'v1', 'network-attachment-definitions', 'NetworkAttachmentDefinition', true, false),
  def('k8s.cni.cncf.io', 'v1beta1', 'multi-networkpolicies', 'MultiNetworkPolicy', true, false),
];

export interface ParsedPath {
  resource: ResourceDef;
  namespace?: string;
  name?: string;
  subresource?: string;
}

/**
 * `/api/v1/[namespaces/NS/]PLURAL[/NAME[/SUB]]` or `/apis/GROUP/VERSION/[namespaces/NS/]PLURAL[/NAME[/SUB]]`.
 * Returns undefined for anything else (404).
 */
export function parsePath(pathname: string, resources: ResourceDef[]): ParsedPath | undefined {
  const seg = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let group: string, version: string, rest: string[];
  if (seg[0] === 'api' && seg.length >= 3) [group, version, rest] = ['', seg[1]!, seg.slice(2)];
  else if (seg[0] === 'apis' && seg.length >= 4) [group, version, rest] = [seg[1]!, seg[2]!, seg.slice(3)];
  else return undefined;
  const find = (plural: string) => resources.find((r) => r.group === group && r.version === version && r.plural === plural);
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3 && find(rest[2]!)?.namespaced) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const resource = find(rest[0]!);
  if (!resource || rest.length > 3) return undefined;
  if (namespace !== undefined && !resource.namespaced) return undefined;
  return { resource, namespace, name: rest[1], subresource: rest[2] };
}
