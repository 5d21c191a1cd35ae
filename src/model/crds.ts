/**
 * CustomResourceDefinitions of vxmesh's kinds, generated from the zod schemas the code validates with
 * (`deploy/crds/*.yaml` are written from here by build/gen-crds.mjs, and a test keeps them in sync).
 * CEL rules (x-kubernetes-validations) repeat the single-object checks a user most often gets wrong so the
 * API server rejects them up front (each names its field through fieldPath), and transition rules
 * (oldSelf) make a network's VNI, cluster network and CIDR immutable; cross-object checks (VNI unique
 * across the cluster, references, addresses held by others) stay in the controller, which reports them as
 * conditions and Events. The rules that parse addresses use Kubernetes' CEL IP/CIDR library (cidr(),
 * containsIP(); Kubernetes >= 1.31).
 */
import type { ZodTypeAny } from 'zod';
import { ipClaimSchema } from '../controller/claims.js';
import { toOpenApi, type JsonSchema } from './openapi.js';
import { VXMESH_GROUP, ipAllocationSchema, vxlanConfigSchema, vxlanNetworkSchema, vxlanStatusSchema } from './schema.js';

interface CrdSpec {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  scope: 'Namespaced' | 'Cluster';
  schema: ZodTypeAny;
  description: string;
  status?: JsonSchema;
  statusSubresource: boolean;
  /** Rules on a top-level property (`spec`), or on the whole object under the key ''. */
  validations?: Record<string, CelRule[]>;
  columns: Array<{ name: string; type: string; jsonPath: string; priority?: number }>;
}

/** One x-kubernetes-validations entry; fieldPath (relative to where the rule sits) is the field the error names. */
export interface CelRule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}

export const CEL = {
  networkNotMgmt: { rule: "self.clusterNetwork != 'mgmt'", message: 'the mgmt cluster network cannot carry VxLAN networks; use a custom cluster network', fieldPath: '.clusterNetwork' },
  configNotMgmt: { rule: "self.clusterNetwork != 'mgmt'", message: 'mgmt is built in and takes no VxlanConfig', fieldPath: '.clusterNetwork' },
  staticVteps: { rule: "!has(self.vtep) || !has(self.vtep.addressFrom) || self.vtep.addressFrom != 'static' || (has(self.vtep.addresses) && size(self.vtep.addresses) > 0)", message: 'vtep.addressFrom static needs vtep.addresses', fieldPath: '.vtep.addresses', reason: 'FieldValueRequired' },
  // The schema's pattern has made sure cidr and gateway parse; these compare them.
  cidrCanonical: { rule: 'string(cidr(self.cidr).masked()) == self.cidr', message: 'has host bits set: write the network address (e.g. 10.10.0.0/24)', fieldPath: '.cidr' },
  cidrSize: { rule: 'cidr(self.cidr).prefixLength() <= 30', message: 'is too small: a network needs at least a /30 (gateway and one VM)', fieldPath: '.cidr' },
  gatewayInCidr: { rule: '!has(self.gateway) || cidr(self.cidr).containsIP(self.gateway)', message: 'must be inside spec.cidr', fieldPath: '.gateway' },
  ipImmutable: { rule: 'self == oldSelf', message: 'a claim is immutable; delete it and create another' },
  // Transition rules: a running network's VNI, cluster network and subnet never move under its VMs
  // (bridges, routers and maps are keyed by VNI; every address and lease lies in the CIDR). Changing
  // one means a new network: create it, move the VMs, delete the old one.
  vniImmutable: { rule: 'self.vni == oldSelf.vni', message: 'is immutable: create a new VxlanNetwork and move the VMs', fieldPath: '.vni' },
  clusterNetworkImmutable: { rule: 'self.clusterNetwork == oldSelf.clusterNetwork', message: 'is immutable: create a new VxlanNetwork and move the VMs', fieldPath: '.clusterNetwork' },
  cidrImmutable: { rule: 'self.cidr == oldSelf.cidr', message: 'is immutable (it would renumber running VMs): create a new VxlanNetwork and move the VMs', fieldPath: '.cidr' },
  // A status speaks for the node it is named after: agents find a node's VTEP by status.node, and the
  // admission policy ties the name to the writing agent's node.
  statusNamed: { rule: "!has(self.status) || self.metadata.name == self.status.clusterNetwork + '.' + self.status.node", message: 'a VxlanStatus must be named <status.clusterNetwork>.<status.node>', fieldPath: '.status.node' },
} satisfies Record<string, CelRule>;

const condition: JsonSchema = {
  type: 'object',
  required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
  properties: {
    type: { type: 'string', maxLength: 316 },
    status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    reason: { type: 'string', maxLength: 1024 },
    message: { type: 'string', maxLength: 32768 },
    lastTransitionTime: { type: 'string', format: 'date-time' },
    observedGeneration: { type: 'integer', minimum: 0 },
  },
};

const ready = '.status.conditions[?(@.type=="Ready")].status';
const age = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export const CRD_SPECS: CrdSpec[] = [
  {
    kind: 'VxlanConfig', plural: 'vxlanconfigs', singular: 'vxlanconfig', shortNames: ['vxc'], scope: 'Cluster', statusSubresource: false,
    schema: vxlanConfigSchema, description: 'Which nodes of a Harvester cluster network join its VxLAN overlay, over which uplink, and how their VTEP address is found (the sibling of VlanConfig).',
    validations: { spec: [CEL.configNotMgmt, CEL.staticVteps] },
    columns: [{ name: 'Cluster Network', type: 'string', jsonPath: '.spec.clusterNetwork' }, { name: 'Port', type: 'integer', jsonPath: '.spec.port' }, age],
  },
  {
    kind: 'VxlanNetwork', plural: 'vxlannetworks', singular: 'vxlannetwork', shortNames: ['vxn'], scope: 'Namespaced', statusSubresource: true,
    schema: vxlanNetworkSchema, description: 'A VxLAN overlay network for VMs: VNI, subnet, distributed gateway and NAT. The controller creates its NetworkAttachmentDefinition.',
    validations: { spec: [CEL.networkNotMgmt, CEL.cidrCanonical, CEL.cidrSize, CEL.gatewayInCidr, CEL.vniImmutable, CEL.clusterNetworkImmutable, CEL.cidrImmutable] },
    status: {
      type: 'object',
      properties: {
        conditions: { type: 'array', items: condition, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] },
        allocatedIPs: { type: 'integer', minimum: 0 },
        observedGeneration: { type: 'integer', minimum: 0 },
      },
    },
    columns: [
      { name: 'VNI', type: 'integer', jsonPath: '.spec.vni' }, { name: 'CIDR', type: 'string', jsonPath: '.spec.cidr' },
      { name: 'Cluster Network', type: 'string', jsonPath: '.spec.clusterNetwork' }, { name: 'Ready', type: 'string', jsonPath: ready },
      { name: 'IPs', type: 'integer', jsonPath: '.status.allocatedIPs', priority: 1 }, age,
    ],
  },
  {
    kind: 'VxlanIPAllocation', plural: 'vxlanipallocations', singular: 'vxlanipallocation', shortNames: ['vxip'], scope: 'Namespaced', statusSubresource: false,
    schema: ipAllocationSchema, description: "A VM interface's persistent address (kept across migration and restart). Written by the controller.",
    columns: [
      { name: 'Network', type: 'string', jsonPath: '.spec.network' }, { name: 'VM', type: 'string', jsonPath: '.spec.vm' },
      { name: 'Interface', type: 'string', jsonPath: '.spec.interface' }, { name: 'IP', type: 'string', jsonPath: '.spec.ip' }, age,
    ],
  },
  {
    kind: 'VxlanIPClaim', plural: 'vxlanipclaims', singular: 'vxlanipclaim', shortNames: [], scope: 'Cluster', statusSubresource: false,
    schema: ipClaimSchema, description: 'Internal: one per (network, address), named after both, so two allocations of one address cannot exist. Written by the controller.',
    validations: { spec: [CEL.ipImmutable] },
    columns: [{ name: 'Network', type: 'string', jsonPath: '.spec.network' }, { name: 'IP', type: 'string', jsonPath: '.spec.ip' }, { name: 'VM', type: 'string', jsonPath: '.spec.owner.vm' }, age],
  },
  {
    kind: 'VxlanStatus', plural: 'vxlanstatuses', singular: 'vxlanstatus', shortNames: ['vxs'], scope: 'Cluster', statusSubresource: true,
    schema: vxlanStatusSchema, description: "A node's state on one cluster network (like VlanStatus): VTEP address, dataplane mode, readiness. Written by the node's agent.",
    validations: { '': [CEL.statusNamed] },
    columns: [
      { name: 'Node', type: 'string', jsonPath: '.status.node' }, { name: 'Cluster Network', type: 'string', jsonPath: '.status.clusterNetwork' },
      { name: 'VTEP', type: 'string', jsonPath: '.status.vtepIP' }, { name: 'Mode', type: 'string', jsonPath: '.status.mode' },
      { name: 'Ready', type: 'boolean', jsonPath: '.status.ready' }, age,
    ],
  },
];

export function openApiOf(spec: CrdSpec): JsonSchema {
  const full = toOpenApi(spec.schema);
  const props = { ...full.properties! };
  delete props.apiVersion;
  delete props.kind;
  delete props.metadata;
  const { '': rootRules, ...fieldRules } = spec.validations ?? {};
  for (const [field, rules] of Object.entries(fieldRules)) props[field] = { ...props[field]!, 'x-kubernetes-validations': rules };
  if (spec.status) props.status = spec.status;
  const required = (full.required ?? []).filter((r) => !['apiVersion', 'kind', 'metadata', 'status'].includes(r) || (r === 'status' && !spec.statusSubresource));
  return {
    type: 'object',
    description: spec.description,
    properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, ...props },
    // The status of a kind with a status subresource is written after the create: never required.
    ...(required.length ? { required } : {}),
    ...(rootRules?.length ? { 'x-kubernetes-validations': rootRules } : {}),
  };
}

export function crdManifest(spec: CrdSpec): Record<string, unknown> {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${spec.plural}.${VXMESH_GROUP}`, labels: { 'app.kubernetes.io/name': 'vxmesh', 'app.kubernetes.io/part-of': 'vxmesh' } },
    spec: {
      group: VXMESH_GROUP,
      scope: spec.scope,
      names: { kind: spec.kind, listKind: `${spec.kind}List`, plural: spec.plural, singular: spec.singular, ...(spec.shortNames.length ? { shortNames: spec.shortNames } : {}), categories: ['vxmesh'] },
      versions: [{
        name: 'v1alpha1', served: true, storage: true,
        schema: { openAPIV3Schema: openApiOf(spec) },
        ...(spec.statusSubresource ? { subresources: { status: {} } } : {}),
        additionalPrinterColumns: spec.columns,
      }],
    },
  };
}

/** File name -> CRD object, as written to deploy/crds/. */
export function crdFiles(): Map<string, Record<string, unknown>> {
  return new Map(CRD_SPECS.map((s) => [`${s.plural}.${VXMESH_GROUP}.yaml`, crdManifest(s)]));
}
