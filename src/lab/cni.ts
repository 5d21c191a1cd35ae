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

/** The launcher pod KubeVirt would run the VM in: `virt-launcher-<vm>-<5 characters>`. */
export const launcherPodName = (vm: { name: string; namespace: string }) =>
  `virt-launcher-${vm.name}-${fnv1aHex(`${vm.namespace}/${vm.name}`).slice(0, 5)}`;

/** The CNI attachment of one lab NIC (container ID: the VM's namespace name). */
export function attachmentOf(vm: Pick<LabVmState, 'name' | 'namespace' | 'netns'>, nic: Pick<LabNicState, 'name' | 'mac'>): Attachment {
  return {
    containerId: vm.netns,
    netns: `/var/run/netns/${vm.netns}`,
    ifname: kubevirtPodIfname(nic.name),
    podNamespace: vm.namespace,
    podName: launcherPodName(vm),
    mac: nic.mac,
  };
}

/** The node-side port the plugin makes for a NIC (derived from the attachment, like the plugin does). */
export function labPortName(vm: Pick<LabVmState, 'name' | 'namespace' | 'netns'>, nic: Pick<LabNicState, 'name' | 'mac'>): string {
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
 * Plugs one NIC: CNI ADD (retried while the plugin answers "try again later", as the kubelet retries a
 * pod sandbox, e.g. before the agent has built the network's bridge), then the guest's name for it.
 * Returns what DEL will need (the config and the plugin's result).
 */
export async function plugNic(s: LabState, vm: LabVmState, nic: LabNicState, timeoutMs = 30_000): Promise<LabCniAttachment> {
  const config = await nadConfigOf(s, nic.network);
  const a = attachmentOf(vm, nic);
  const opts = { cniPath: labCniPath(s.repo), hostNetns: nodeNetnsOf(s, vm.node) };
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
  if (a.ifname !== nic.ifname) {
    await run(['ip', 'link', 'set', 'dev', a.ifname, 'down'], { netns: vm.netns });
    await run(['ip', 'link', 'set', 'dev', a.ifname, 'name', nic.ifname], { netns: vm.netns });
  }
  return { nic: nic.name, config, result };
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
