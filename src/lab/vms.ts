/**
 * Lab VMs: a namespace per VM (`vxm-<lab>-<vm>`) whose NICs are plugged by a real CNI invocation of their
 * network's NetworkAttachmentDefinition (cni.ts: vxmesh's plugin makes a veth pair, the node side
 * `vxmc<hash>` in the network's bridge, bound to the VM's NIC). Each VM runs a TCP echo on
 * port 7 answering its own name, so "who answered" is observable. A NIC of a network with DHCP gets its
 * address from a DHCP client in the guest (dhcp-client.ts); one without is configured statically from the
 * published allocation, as cloud-init would.
 */
import { run } from '../util/exec.js';
import { names } from '../dataplane/names.js';
import type { PlannedVm } from './input.js';
import { spawnDetached } from './processes.js';
import { startDhcpClients } from './dhcp-client.js';
import { labPaths, labPrefix, type LabState, type LabVmState } from './state.js';
import { addNetns, nsName } from './topology.js';
import { kubevirtPodIfname, type PortBinding } from '../dataplane/port-binding.js';
import { labPortName, plugNic, unplugNic } from './cni.js';

export function vmState(lab: string, vm: PlannedVm): LabVmState {
  const netns = nsName(labPrefix(lab), vm.name);
  return {
    name: vm.name,
    namespace: vm.namespace,
    netns,
    node: vm.node,
    createdAt: new Date().toISOString(),
    interfaces: vm.nics.map((n, i) => ({
      name: n.iface,
      network: n.network,
      vni: n.vni,
      mac: n.mac,
      ip: n.ip,
      prefixLen: n.prefixLen,
      gateway: n.gateway,
      natOutgoing: n.natOutgoing,
      mtu: n.mtu,
      dhcp: n.dhcp,
      port: labPortName({ name: vm.name, namespace: vm.namespace, netns }, { name: n.iface, mac: n.mac }),
      bridge: names.bridge(n.vni),
      ifname: `eth${i}`,
    })),
  };
}

/** The VM NIC a lab port is bound to, as the CNI plugin binds it (the VMI `<namespace>/<name>`, KubeVirt's pod interface for the NIC). */
export function portBinding(vm: LabVmState, nic: LabVmState['interfaces'][number]): PortBinding {
  return { vm: `${vm.namespace}/${vm.name}`, iface: kubevirtPodIfname(nic.name) };
}

export function nodeNetns(s: LabState, node: string): string {
  const n = s.nodes.find((x) => x.name === node);
  if (!n) throw new Error(`lab ${s.lab} has no node ${node}`);
  return n.netns;
}

export async function createVm(s: LabState, vm: LabVmState): Promise<void> {
  await addNetns(vm.netns);
  vm.cni = [];
  for (const [i, nic] of vm.interfaces.entries()) {
    vm.cni.push(await plugNic(s, vm, nic));
    if (!nic.dhcp) await run(['ip', 'addr', 'add', `${nic.ip}/${nic.prefixLen}`, 'dev', nic.ifname], { netns: vm.netns });
    await run(['ip', 'link', 'set', nic.ifname, 'up'], { netns: vm.netns });
    if (i === 0 && !nic.dhcp && nic.gateway) await run(['ip', 'route', 'add', 'default', 'via', nic.gateway], { netns: vm.netns });
  }
  startDhcpClients(s, vm);
  spawnDetached(['ip', 'netns', 'exec', vm.netns, 'socat', 'TCP-LISTEN:7,fork,reuseaddr', `SYSTEM:echo ${vm.name}`], labPaths(s.lab).log(`vm-${vm.name}`));
  vm.createdAt = new Date().toISOString();
}

/** Kills what runs inside a namespace, then deletes it (its veth ends disappear with it). */
export async function deleteNetns(netns: string): Promise<void> {
  const r = await run(['ip', 'netns', 'pids', netns], { allowFailure: true });
  const pids = r.stdout.split(/\s+/).filter(Boolean);
  if (pids.length) await run(['kill', '-9', ...pids], { allowFailure: true });
  await run(['ip', 'netns', 'del', netns], { allowFailure: true });
}

/** CNI DEL of each NIC (as the kubelet does when the pod goes), then the namespace. */
export async function deleteVm(s: LabState, vm: LabVmState): Promise<void> {
  for (const nic of vm.interfaces) await unplugNic(s, vm, nic);
  await deleteNetns(vm.netns);
}

/** Starts the external host's TCP server: it answers every connection with the client's source address. */
export function startExternalServer(s: LabState): void {
  if (!s.external) return;
  spawnDetached(
    ['ip', 'netns', 'exec', s.external.netns, 'socat', `TCP-LISTEN:${s.external.port},fork,reuseaddr`, 'SYSTEM:echo $SOCAT_PEERADDR'],
    labPaths(s.lab).log('external'),
  );
}
