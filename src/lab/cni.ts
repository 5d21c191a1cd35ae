/**
 * The lab plays Multus and virt-launcher for its VMs: each NIC is plugged by executing the CNI plugin
 * named in its network's NetworkAttachmentDefinition, with the NAD's own config (src/cni/invoke.ts), in
 * the node's namespace, as Multus does for a KubeVirt launcher pod: container ID and network namespace of
 * the VM, CNI_IFNAME KubeVirt's pod interface name for the NIC, CNI_ARGS with the launcher pod's
 * namespace and name (`virt-launcher-<vm>-<suffix>`) and the VMI interface's MAC. The guest then gets
 * the NIC under its own name (eth0, …), which virt-launcher's bridge binding does in a real pod.
 *
 * The NAD comes from where the VMs' users would find it: with the Kubernetes source the one the real
 * controller wrote to the lab's API server; with the file source the one the controller would write for
 * the lab's objects (controller/nad.ts on the same snapshot).
 */
import { readFile } from 'node:fs/promises';
import { KubeClient, loadKubeConfig } from '../k8s/client.js';
import { RESOURCES } from '../k8s/resources.js';
import { desiredNads } from '../controller/nad.js';
import { buildSnapshot, parseDocuments } from '../sources/validate.js';
import { addNetwork, CniInvokeError, delNetwork, type Attachment } from '../cni/invoke.js';
import { CniCode } from '../cni/spec.js';
import { kubevirtPodIfname } from '../dataplane/port-binding.js';
import { hostPortName } from '../cni/port-name.js';
import { pluginDir } from '../cni/plugin-binary.js';
import { fnv1aHex } from '../util/hash.js';
import { run } from '../util/exec.js';
import { sleep } from './processes.js';
import { labPaths, type LabCniAttachment, type LabNicState, type LabState, type LabVmState } from './state.js';

/** Where the lab's CNI plugins are: build/out/cni/ (the Go `vxmesh-cni` build/setup.sh builds). */
export const labCniPath = (repo: string) => [pluginDir(repo)];

type VmId = Pick<LabVmState, 'name' | 'namespace' | 'netns' | 'pod'>;

/**
 * The launcher pod KubeVirt would run the VM in: `virt-launcher-<vm>-<5 characters>`; each live migration's
 * target is a new pod (`pod` counts them), with a name of its own.
 */
export const launcherPodName = (vm: VmId) =>
  `virt-launcher-${vm.name}-${fnv1aHex(`${vm.namespace}/${vm.name}${vm.pod ? `/${vm.pod}` : ''}`).slice(0, 5)}`;

/**
 * The sandbox (CNI container ID and network namespace) of the VM's launcher pod: the VM's own namespace
 * for the pod it started in; for the target pod of its n-th migration `<vm netns>-m<n>`, a namespace the
 * lab makes for the target's CNI ADD and removes once the guest has moved in (lab/ops.ts).
 */
export const launcherSandbox = (vm: VmId) => (vm.pod ? `${vm.netns}-m${vm.pod}` : vm.netns);

/** The CNI attachment of one lab NIC in the VM's launcher pod. */
export function attachmentOf(vm: VmId, nic: Pick<LabNicState, 'name' | 'mac'>): Attachment {
  const sandbox = launcherSandbox(vm);
  return {
    containerId: sandbox,
    netns: `/var/run/netns/${sandbox}`,
    ifname: kubevirtPodIfname(nic.name),
    podNamespace: vm.namespace,
    podName: launcherPodName(vm),
    mac: nic.mac,
  };
}

/** The node-side port the plugin makes for a NIC (derived from the attachment, like the plugin does). */
export function labPortName(vm: VmId, nic: Pick<LabNicState, 'name' | 'mac'>): string {
  const a = attachmentOf(vm, nic);
  return hostPortName(a.containerId, a.ifname);
}

/** The config of the NAD of `network` ("<namespace>/<name>"), waiting up to `timeoutMs` for the controller to write it. */
export async function nadConfigOf(s: LabState, network: string, timeoutMs = 30_000): Promise<string> {
  const [namespace, name] = network.split('/') as [string, string];
  if (!s.kube) {
    const p = labPaths(s.lab);
    const parsed = parseDocuments(await readFile(p.cluster, 'utf8'), p.cluster);
    const nad = desiredNads(buildSnapshot(parsed.docs).snapshot, new Map()).find((n) => n.metadata.namespace === namespace && n.metadata.name === name);
    if (!nad) throw new Error(`the lab has no VxlanNetwork ${network}, so no NetworkAttachmentDefinition for it`);
    return String(nad.spec.config);
  }
  const client = new KubeClient(loadKubeConfig({ kubeconfigYaml: s.kube.kubeconfigYaml }));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const nad = await client.get(RESOURCES.nads, name, namespace);
    if (nad?.spec?.config) return String(nad.spec.config);
    if (Date.now() > deadline) throw new Error(`the controller wrote no NetworkAttachmentDefinition ${network} within ${timeoutMs / 1000} s (see ${labPaths(s.lab).logs}/controller.log)`);
    await sleep(100);
  }
}

const nodeNetnsOf = (s: LabState, node: string) => {
  const n = s.nodes.find((x) => x.name === node);
  if (!n) throw new Error(`lab ${s.lab} has no node ${node}`);
  return n.netns;
};

/**
 * CNI ADD of one NIC of `vm`'s launcher pod on `node`, retried while the plugin answers "try again later"
 * (as the kubelet retries a pod sandbox, e.g. before the agent has built the network's bridge). Returns
 * what DEL will need (the config and the plugin's result).
 */
export async function cniAdd(s: LabState, vm: VmId, nic: LabNicState, node: string, timeoutMs = 30_000): Promise<LabCniAttachment> {
  const config = await nadConfigOf(s, nic.network);
  const a = attachmentOf(vm, nic);
  const opts = { cniPath: labCniPath(s.repo), hostNetns: nodeNetnsOf(s, node) };
  const deadline = Date.now() + timeoutMs;
  let result: unknown;
  for (;;) {
    try {
      result = await addNetwork(config, a, opts);
      break;
    } catch (err) {
      if (!(err instanceof CniInvokeError) || err.cniCode !== CniCode.tryAgainLater || Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
  return { nic: nic.name, config, result };
}

/** Plugs one NIC of a VM starting in its first pod: CNI ADD on its node, then the guest's name for it. */
export async function plugNic(s: LabState, vm: LabVmState, nic: LabNicState): Promise<LabCniAttachment> {
  const attachment = await cniAdd(s, vm, nic, vm.node);
  const podIfname = kubevirtPodIfname(nic.name);
  if (podIfname !== nic.ifname) {
    await run(['ip', 'link', 'set', 'dev', podIfname, 'down'], { netns: vm.netns });
    await run(['ip', 'link', 'set', 'dev', podIfname, 'name', nic.ifname], { netns: vm.netns });
  }
  return attachment;
}

/**
 * CNI DEL of one NIC with the config and result its ADD used (what Multus caches for DEL: the NAD may be
 * gone by then); idempotent. A NIC plugged before the lab used CNI has nothing cached: nothing to do.
 */
export async function unplugNic(s: LabState, vm: LabVmState, nic: LabNicState): Promise<void> {
  const cached = vm.cni?.find((c) => c.nic === nic.name);
  if (!cached) return;
  await delNetwork(cached.config, attachmentOf(vm, nic), cached.result, { cniPath: labCniPath(s.repo), hostNetns: nodeNetnsOf(s, vm.node) });
}
