/**
 * What the plugin knows about the VM it plugs, without asking the API server: only its invocation.
 *
 * - Namespace: K8S_POD_NAMESPACE (a VMI's launcher pod lives in the VMI's namespace).
 * - VMI name: from K8S_POD_NAME. KubeVirt creates the launcher pod with generateName
 *   `virt-launcher-<vmi>-`, so the pod is `virt-launcher-<vmi>-<5 random>`. The API server cuts a
 *   generateName prefix to 58 characters, so a VMI name is recoverable only up to 42 characters (the pod
 *   name is then at most 62); a 63-character pod name may be cut and is refused rather than guessed. The
 *   labels that name the VMI for sure (`kubevirt.io/created-by`, `vm.kubevirt.io/name`) are on the pod
 *   object, which only an API call would read.
 * - Interface: CNI_IFNAME, the pod interface Multus creates. KubeVirt names a secondary network's pod
 *   interface `pod<sha256(network name)[:11]>` (pkg/network/namescheme); the agent matches that against the
 *   VMI's interface names (port-binding.ts kubevirtPodIfname). The older ordinal names (`net1`, …) name no
 *   network and bind nothing.
 *
 * The binding is written as the host port's alias (port-binding.ts). Pure.
 */
import { createHash } from 'node:crypto';
import { formatPortBinding, parsePortBinding, type PortBinding } from '../dataplane/port-binding.js';
import type { CniArgs } from './env.js';
import { CniCode, CniError } from './spec.js';

const LAUNCHER = /^virt-launcher-(.+)-[a-z0-9]{5}$/;
/** Kubernetes' generated names: prefix cut to 58 characters, then 5 random ones. */
const MAX_UNCUT_POD_NAME = 62;

/** The VMI a launcher pod runs, or an explanation why its name cannot tell. */
export function vmiOfPod(podName: string): { vmi: string } | { problem: string } {
  const m = LAUNCHER.exec(podName);
  if (!m) return { problem: `pod ${podName} is not a KubeVirt launcher pod (virt-launcher-<vmi>-<suffix>): vxmesh plugs VMs only` };
  if (podName.length > MAX_UNCUT_POD_NAME) {
    return { problem: `pod ${podName} has the longest generated name: its VMI name may have been cut (VMI names of up to 42 characters are supported)` };
  }
  return { vmi: m[1]! };
}

export function bindingOf(args: CniArgs, ifname: string): PortBinding {
  const { podNamespace: ns, podName } = args;
  if (!ns || !podName) throw new CniError(CniCode.unknownVmi, 'CNI_ARGS lacks K8S_POD_NAMESPACE or K8S_POD_NAME: cannot name the VM this port belongs to');
  const vmi = vmiOfPod(podName);
  if ('problem' in vmi) throw new CniError(CniCode.unknownVmi, vmi.problem);
  const binding = { vm: `${ns}/${vmi.vmi}`, iface: ifname };
  if (!parsePortBinding(`vxmesh/${ns}/${vmi.vmi}/${ifname}`)) {
    throw new CniError(CniCode.unknownVmi, `cannot bind a port to ${binding.vm} interface ${ifname}: not valid names`);
  }
  return binding;
}

export const bindingAlias = (b: PortBinding): string => formatPortBinding(b);

/**
 * The host-side veth of an attachment: `vxmc` + 8 hex of sha256(containerId/ifname). Derived, so DEL
 * finds it from the same parameters even when the container's namespace is gone; never a name vxmesh's
 * agent owns (names.ts isOwnedDevice).
 */
export function hostPortName(containerId: string, ifname: string): string {
  return `vxmc${createHash('sha256').update(`${containerId}/${ifname}`).digest('hex').slice(0, 8)}`;
}
