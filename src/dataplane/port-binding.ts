/**
 * Which VM NIC a bridge port belongs to, bound out of band when the port is plugged, never learned from
 * the frames a port sends. Whoever plugs a VM's port into `vxb<vni>` (vxmesh's CNI plugin on a real node,
 * the lab's plugging code here) sets the host-side port's interface alias (IFLA_IFALIAS, `ip link set
 * PORT alias …`) to `vxmesh/<vmi namespace>/<vmi name>/<interface>`. Only root in the node's network
 * namespace can set it; the guest, on the far side of the veth, cannot. The alias travels with the link
 * when it is moved to another namespace. A VM port without a valid binding carries nothing (fail closed).
 * The interface part is the VMI's interface name, or (vxmesh's CNI plugin, which sees only the pod side)
 * the pod interface KubeVirt names after it (kubevirtPodIfname). Pure.
 */
import { createHash } from 'node:crypto';

export interface PortBinding {
  /** "<namespace>/<name>" of the VMI. */
  vm: string;
  /** The VMI's interface (= network) name. */
  iface: string;
}

const PREFIX = 'vxmesh/';
/** Kubernetes object names (DNS-1123 subdomain / label) and KubeVirt interface names. */
const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const IFACE = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export function formatPortBinding(b: PortBinding): string {
  const [ns, name] = b.vm.split('/');
  const out = `${PREFIX}${ns}/${name}/${b.iface}`;
  if (!parsePortBinding(out)) throw new Error(`cannot bind a port to ${b.vm} ${b.iface}: not a valid VMI/interface name`);
  return out;
}

/** The binding an alias names, or undefined when the alias is not a (valid) vxmesh binding. */
export function parsePortBinding(alias: string | undefined): PortBinding | undefined {
  if (!alias?.startsWith(PREFIX) || alias.length > 255) return undefined;
  const parts = alias.slice(PREFIX.length).split('/');
  if (parts.length !== 3) return undefined;
  const [ns, name, iface] = parts as [string, string, string];
  if (!NAME.test(ns) || !NAME.test(name) || !IFACE.test(iface)) return undefined;
  return { vm: `${ns}/${name}`, iface };
}

export const bindingKey = (b: PortBinding) => `${b.vm}/${b.iface}`;

/**
 * The pod interface KubeVirt creates for a VMI interface on a secondary (Multus) network:
 * `pod` + the first 11 hex digits of sha256(network name) (kubevirt pkg/network/namescheme
 * GenerateHashedInterfaceName); a VMI's interface and its network share the name.
 */
export function kubevirtPodIfname(iface: string): string {
  return `pod${createHash('sha256').update(iface).digest('hex').slice(0, 11)}`;
}

/** The binding keys that name one VMI interface: by its own name and by its KubeVirt pod interface. */
export const bindingKeysOf = (vm: string, iface: string): string[] => [`${vm}/${iface}`, `${vm}/${kubevirtPodIfname(iface)}`];
