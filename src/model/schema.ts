/**
 * The resource model: one zod schema per kind. Objects from a YAML file and from the API server are
 * validated by the same schemas; CRDs / JSON Schema are generated from them.
 * Shapes follow Harvester (network.harvesterhci.io) and KubeVirt (kubevirt.io) where those exist.
 */
import { z } from 'zod';

export const VXMESH_GROUP = 'network.vxmesh.io';
export const VXMESH_API = `${VXMESH_GROUP}/v1alpha1`;
export const HARVESTER_NETWORK_API = 'network.harvesterhci.io/v1beta1';
export const KUBEVIRT_API = 'kubevirt.io/v1';

/** Fixed-IP request on a VMI: `network.vxmesh.io/ip-address` (single vxmesh NIC) or `network.vxmesh.io/ip-address.<iface>`. */
export const FIXED_IP_ANNOTATION = `${VXMESH_GROUP}/ip-address`;

/** VxlanConfig spec.networksPerNamespace when unset (and for cluster networks without a VxlanConfig). */
export const DEFAULT_NETWORKS_PER_NAMESPACE = 16;

const dns1123 = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a lowercase DNS name');

export const ipv4 = z
  .string()
  .regex(/^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/, 'must be an IPv4 address');
export const cidr4 = z
  .string()
  .regex(
    /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\/(3[0-2]|[12]?\d)$/,
    'must be an IPv4 CIDR like 10.0.0.0/24',
  );
export const mac = z
  .string()
  .regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, 'must be a MAC address like 02:00:00:00:00:01')
  .transform((s) => s.toLowerCase());

const labels = z.record(z.string());

export const objectMeta = z.object({
  name: dns1123,
  namespace: dns1123.optional(),
  labels: labels.optional(),
  annotations: labels.optional(),
  resourceVersion: z.string().optional(),
  uid: z.string().optional(),
  generation: z.number().optional(),
  creationTimestamp: z.string().optional(),
});
const namespacedMeta = objectMeta.extend({ namespace: dns1123.default('default') });

export const clusterNetworkSchema = z.object({
  apiVersion: z.literal(HARVESTER_NETWORK_API),
  kind: z.literal('ClusterNetwork'),
  metadata: objectMeta.extend({ name: dns1123.max(12, 'must be at most 12 characters (Linux names <cn>-br)') }),
});

export const vxlanConfigSchema = z.object({
  apiVersion: z.literal(VXMESH_API),
  kind: z.literal('VxlanConfig'),
  metadata: objectMeta,
  spec: z.object({
    clusterNetwork: dns1123,
    /** Nodes this config applies to (matchLabels); empty selects every node. */
    nodeSelector: z.object({ matchLabels: labels.optional() }).default({}),
    uplink: z.object({
      nics: z.array(z.string().min(1).max(15)).min(1),
      linkAttributes: z.object({ mtu: z.number().int().min(1280).max(9216).optional() }).default({}),
      bondOptions: z
        .object({
          mode: z
            .enum(['balance-rr', 'active-backup', 'balance-xor', 'broadcast', '802.3ad', 'balance-tlb', 'balance-alb'])
            .default('active-backup'),
          miimon: z.number().int().min(0).optional(),
        })
        .optional(),
    }),
    /**
     * Fair share: at most this many VxlanNetworks per namespace on this cluster network (the smallest value
     * wins when several VxlanConfigs serve one cluster network). Networks beyond it, newest first, are rejected.
     */
    networksPerNamespace: z.number().int().min(1).max(4096).default(DEFAULT_NETWORKS_PER_NAMESPACE),
    /** VTEP UDP port; 4789 is IANA's. 8472 belongs to flannel. */
    port: z.number().int().min(1).max(65535).default(4789),
    /** How a node's VTEP address is found: the first IPv4 on the uplink, or an explicit per-node map. */
    vtep: z
      .object({
        addressFrom: z.enum(['uplink', 'static']).default('uplink'),
        addresses: z.record(ipv4).default({}),
      })
      .default({}),
  }),
});

export const vxlanNetworkSchema = z.object({
  apiVersion: z.literal(VXMESH_API),
  kind: z.literal('VxlanNetwork'),
  metadata: namespacedMeta,
  spec: z.object({
    clusterNetwork: dns1123,
    vni: z.number().int().min(1, 'not in 1..16777215').max(16777215, 'not in 1..16777215'),
    cidr: cidr4,
    /** Default: the first host of the CIDR. */
    gateway: ipv4.optional(),
    excludeIPs: z.array(z.union([ipv4, cidr4])).default([]),
    natOutgoing: z.boolean().default(true),
    /** Default: uplink MTU - 50. */
    mtu: z.number().int().min(576).max(9166).optional(),
    /** Every node answers DHCP for its local VMs of this network from their allocations; false: guests are configured otherwise (cloud-init). */
    dhcp: z.boolean().default(true),
    /** Handed out by DHCP (options 6, 15, 119). */
    dns: z
      .object({
        servers: z.array(ipv4).max(8).default([]),
        search: z.array(dns1123).max(6).default([]),
      })
      .default({}),
    /** DHCP lease time in seconds. */
    leaseTime: z.number().int().min(120).max(31536000).default(3600),
    /**
     * Other namespaces whose VMs may attach to this network (by namespace name); the network's own namespace
     * always may. Default: none.
     */
    allowedNamespaces: z.array(dns1123).max(256).default([]),
  }),
});

const vmiInterface = z.object({ name: z.string().min(1), macAddress: mac.optional() }).passthrough();
const vmiNetwork = z
  .object({ name: z.string().min(1), multus: z.object({ networkName: z.string().min(1) }).optional() })
  .passthrough();

export const vmiSchema = z.object({
  apiVersion: z.literal(KUBEVIRT_API),
  kind: z.literal('VirtualMachineInstance'),
  metadata: namespacedMeta,
  spec: z
    .object({
      domain: z.object({ devices: z.object({ interfaces: z.array(vmiInterface).default([]) }).passthrough() }).passthrough(),
      networks: z.array(vmiNetwork).default([]),
    })
    .passthrough(),
  status: z
    .object({
      nodeName: z.string().optional(),
      phase: z.string().optional(),
      interfaces: z.array(z.object({ name: z.string().optional(), mac: mac.optional() }).passthrough()).optional(),
      migrationState: z
        .object({
          sourceNode: z.string().optional(),
          targetNode: z.string().optional(),
          completed: z.boolean().optional(),
          failed: z.boolean().optional(),
        })
        .passthrough()
        .optional(),
    })
    .passthrough()
    .default({}),
});

/** One persistent address: belongs to a VM NIC (namespace/name + interface), never to a node or pod. */
export const ipAllocationSchema = z.object({
  apiVersion: z.literal(VXMESH_API),
  kind: z.literal('VxlanIPAllocation'),
  metadata: namespacedMeta,
  spec: z.object({
    network: z.string().min(1), // "<namespace>/<name>" of the VxlanNetwork
    vm: dns1123,
    interface: z.string().min(1),
    ip: ipv4,
    mac: mac.optional(),
  }),
});

/** Per (cluster network, node), like Harvester's VlanStatus: written by the node's agent. */
export const vxlanStatusSchema = z.object({
  apiVersion: z.literal(VXMESH_API),
  kind: z.literal('VxlanStatus'),
  metadata: objectMeta,
  status: z.object({
    clusterNetwork: dns1123,
    node: z.string().min(1),
    vtepIP: ipv4.optional(),
    mode: z.enum(['kernel', 'bpf']).optional(),
    ready: z.boolean().default(false),
    message: z.string().optional(),
    lastReconcile: z.string().optional(),
    /** Ready, VtepReady, DataplaneMode, InputValid (metav1.Condition shape), like Harvester's VlanStatus. */
    conditions: z
      .array(z.object({
        type: z.string().min(1),
        status: z.enum(['True', 'False', 'Unknown']),
        reason: z.string().optional(),
        message: z.string().optional(),
        lastTransitionTime: z.string().optional(),
      }))
      .optional(),
  }),
});

export const nodeSchema = z.object({
  apiVersion: z.literal('v1'),
  kind: z.literal('Node'),
  metadata: objectMeta,
});

export const labSchema = z.object({
  apiVersion: z.literal(VXMESH_API),
  kind: z.literal('Lab'),
  metadata: objectMeta.extend({ name: z.string().regex(/^[a-z0-9]{1,8}$/, 'must be 1-8 lowercase letters/digits') }),
  spec: z.object({
    nodes: z
      .array(z.object({ name: z.string().regex(/^[a-z0-9-]{1,20}$/), labels: labels.default({}) }))
      .min(1),
    external: z.boolean().default(true),
    mode: z.enum(['auto', 'bpf', 'kernel']).default('auto'),
  }),
});

// ---- Traffic policies (issue 8): MultiNetworkPolicy (NetworkPolicy's shape) + the namespaces it selects. ----
export const MULTI_NETWORK_POLICY_API = 'k8s.cni.cncf.io/v1beta1';
/** `k8s.v1.cni.cncf.io/policy-for: "<ns>/<net>, <net>"`: the VxlanNetworks a MultiNetworkPolicy applies to. */
export const POLICY_FOR_ANNOTATION = 'k8s.v1.cni.cncf.io/policy-for';
/** Set on the deny-all stand-in of an invalid MultiNetworkPolicy (sources/policy-fallback.ts); its policy-for may be `*`. */
export const FAIL_CLOSED_ANNOTATION = 'vxmesh.io/fail-closed';

export const labelSelector = z.object({
  matchLabels: labels.optional(),
  matchExpressions: z
    .array(z.object({ key: z.string().min(1), operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']), values: z.array(z.string()).optional() }))
    .optional(),
});
const policyPort = z
  .object({
    protocol: z.enum(['TCP', 'UDP', 'SCTP'], { errorMap: () => ({ message: 'must be TCP, UDP or SCTP' }) }).default('TCP'),
    port: z.number({ invalid_type_error: 'must be a port number (named ports are not supported)' }).int().min(1).max(65535).optional(),
    endPort: z.number().int().min(1).max(65535).optional(),
  })
  .superRefine((p, ctx) => {
    if (p.endPort === undefined) return;
    if (p.port === undefined) ctx.addIssue({ code: 'custom', path: ['endPort'], message: 'needs port' });
    else if (p.endPort < p.port) ctx.addIssue({ code: 'custom', path: ['endPort'], message: `${p.endPort} is less than port ${p.port}` });
  });
const ipBlock = z
  .object({ cidr: cidr4, except: z.array(cidr4).default([]) })
  .superRefine((b, ctx) => {
    const [net, len] = b.cidr.split('/');
    b.except.forEach((e, i) => {
      const [enet, elen] = e.split('/');
      if (Number(elen) < Number(len) || !sameNetwork(enet!, net!, Number(len))) ctx.addIssue({ code: 'custom', path: ['except', i], message: `${e} is not inside cidr ${b.cidr}` });
    });
  });
const policyPeer = z
  .object({ podSelector: labelSelector.optional(), namespaceSelector: labelSelector.optional(), ipBlock: ipBlock.optional() })
  .superRefine((p, ctx) => {
    if (p.ipBlock && (p.podSelector || p.namespaceSelector)) ctx.addIssue({ code: 'custom', path: ['ipBlock'], message: 'cannot be combined with podSelector or namespaceSelector' });
    if (!p.ipBlock && !p.podSelector && !p.namespaceSelector) ctx.addIssue({ code: 'custom', path: [], message: 'must set podSelector, namespaceSelector or ipBlock' });
  });
const ingressRule = z.object({ from: z.array(policyPeer).optional(), ports: z.array(policyPort).optional() });
const egressRule = z.object({ to: z.array(policyPeer).optional(), ports: z.array(policyPort).optional() });

export const multiNetworkPolicySchema = z
  .object({
    apiVersion: z.literal(MULTI_NETWORK_POLICY_API),
    kind: z.literal('MultiNetworkPolicy'),
    metadata: namespacedMeta,
    spec: z.object({
      podSelector: labelSelector.default({}),
      policyTypes: z.array(z.enum(['Ingress', 'Egress'], { errorMap: () => ({ message: 'must be Ingress or Egress' }) })).optional(),
      ingress: z.array(ingressRule).optional(),
      egress: z.array(egressRule).optional(),
    }),
  })
  .superRefine((p, ctx) => {
    const v = p.metadata.annotations?.[POLICY_FOR_ANNOTATION];
    const path = ['metadata', 'annotations', POLICY_FOR_ANNOTATION];
    if (!v || !v.trim()) ctx.addIssue({ code: 'custom', path, message: 'is required: the VxlanNetworks the policy applies to ("<namespace>/<name>, ...")' });
    else for (const n of v.split(',').map((x) => x.trim())) {
      if (!/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(n)) ctx.addIssue({ code: 'custom', path, message: `"${n}" is not a network name ("<namespace>/<name>" or "<name>")` });
    }
  });

export const namespaceSchema = z.object({
  apiVersion: z.literal('v1'),
  kind: z.literal('Namespace'),
  metadata: objectMeta,
});

function sameNetwork(a: string, b: string, len: number): boolean {
  const n = (ip: string) => ip.split('.').reduce((x, o) => x * 256 + Number(o), 0);
  const size = 2 ** (32 - len);
  return Math.floor(n(a) / size) === Math.floor(n(b) / size);
}

export type ClusterNetwork = z.infer<typeof clusterNetworkSchema>;
export type VxlanConfig = z.infer<typeof vxlanConfigSchema>;
export type VxlanNetwork = z.infer<typeof vxlanNetworkSchema>;
export type VirtualMachineInstance = z.infer<typeof vmiSchema>;
export type VxlanIPAllocation = z.infer<typeof ipAllocationSchema>;
export type VxlanStatus = z.infer<typeof vxlanStatusSchema>;
export type NodeObject = z.infer<typeof nodeSchema>;
export type Lab = z.infer<typeof labSchema>;
export type MultiNetworkPolicy = z.infer<typeof multiNetworkPolicySchema>;
export type NamespaceObject = z.infer<typeof namespaceSchema>;

/** kind -> schema for every kind a source may carry. */
export const schemasByKind = {
  ClusterNetwork: clusterNetworkSchema,
  VxlanConfig: vxlanConfigSchema,
  VxlanNetwork: vxlanNetworkSchema,
  VirtualMachineInstance: vmiSchema,
  VxlanIPAllocation: ipAllocationSchema,
  VxlanStatus: vxlanStatusSchema,
  Node: nodeSchema,
  MultiNetworkPolicy: multiNetworkPolicySchema,
  Namespace: namespaceSchema,
  Lab: labSchema,
} as const;
export type Kind = keyof typeof schemasByKind;

/** Everything the pipeline decides from: validated, conflict-free objects. */
export interface Snapshot {
  clusterNetworks: ClusterNetwork[];
  vxlanConfigs: VxlanConfig[];
  vxlanNetworks: VxlanNetwork[];
  vmis: VirtualMachineInstance[];
  allocations: VxlanIPAllocation[];
  statuses: VxlanStatus[];
  nodes: NodeObject[];
  /** MultiNetworkPolicies whose policy-for names at least one network (resolution happens in intent). */
  policies: MultiNetworkPolicy[];
  /** Namespaces (their labels feed namespaceSelector). */
  namespaces: NamespaceObject[];
}

export function emptySnapshot(): Snapshot {
  return { clusterNetworks: [], vxlanConfigs: [], vxlanNetworks: [], vmis: [], allocations: [], statuses: [], nodes: [], policies: [], namespaces: [] };
}

export function keyOf(o: { metadata: { namespace?: string; name: string } }): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
}
