/**
 * Reading KubeVirt VMIs the way vxmesh needs them: which interfaces attach to which VxlanNetwork, with
 * which MAC, on which node, and which fixed IP a user asked for. Pure.
 */
import { FIXED_IP_ANNOTATION, keyOf, type VirtualMachineInstance } from './schema.js';

export interface VmiNic {
  /** "<namespace>/<name>" of the VMI. */
  vm: string;
  namespace: string;
  name: string;
  /** Interface (and network) name inside the VMI. */
  iface: string;
  /** "<namespace>/<name>" of the network the interface is bound to (multus networkName, namespace defaulted). */
  network: string;
  /** From spec.domain.devices.interfaces[].macAddress, else status.interfaces[].mac. */
  mac?: string;
  /** Fixed IP requested by annotation, if any, and the field it came from (for error messages). */
  fixedIp?: string;
  fixedIpField?: string;
  node?: string;
  /** The node a live migration is moving the VMI to, while it is in progress (see migrationTarget). */
  migrationTarget?: string;
}

/**
 * The node a live migration is moving the VMI to, while it is in progress: KubeVirt's
 * status.migrationState names a targetNode other than status.nodeName and the migration has neither
 * completed nor failed. KubeVirt moves status.nodeName to the target only once it has completed, after the
 * guest already resumed there; until then this is the only sign of where the guest is about to run.
 */
export function migrationTarget(vmi: VirtualMachineInstance): string | undefined {
  const m = vmi.status.migrationState;
  if (!m?.targetNode || m.completed || m.failed || m.targetNode === vmi.status.nodeName) return undefined;
  return m.targetNode;
}

/** Every multus-bound interface of the VMI (whatever network type it points at). */
export function vmiNics(vmi: VirtualMachineInstance): VmiNic[] {
  const ns = vmi.metadata.namespace ?? 'default';
  const annotations = vmi.metadata.annotations ?? {};
  const multus = vmi.spec.networks.filter((n) => n.multus);
  const target = migrationTarget(vmi);
  const out: VmiNic[] = [];
  for (const net of multus) {
    const networkName = net.multus!.networkName;
    const network = networkName.includes('/') ? networkName : `${ns}/${networkName}`;
    const specIface = vmi.spec.domain.devices.interfaces.find((i) => i.name === net.name);
    const statusIface = vmi.status.interfaces?.find((i) => i.name === net.name);
    const perIface = `${FIXED_IP_ANNOTATION}.${net.name}`;
    const fixedKey = perIface in annotations ? perIface : multus.length === 1 && FIXED_IP_ANNOTATION in annotations ? FIXED_IP_ANNOTATION : undefined;
    out.push({
      vm: keyOf(vmi),
      namespace: ns,
      name: vmi.metadata.name,
      iface: net.name,
      network,
      mac: specIface?.macAddress ?? statusIface?.mac,
      fixedIp: fixedKey ? annotations[fixedKey] : undefined,
      fixedIpField: fixedKey ? `metadata.annotations["${fixedKey}"]` : undefined,
      node: vmi.status.nodeName,
      ...(target ? { migrationTarget: target } : {}),
    });
  }
  return out;
}
