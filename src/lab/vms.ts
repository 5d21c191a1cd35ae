/**
 * Lab VMs: a namespace per VM (`vxm-<lab>-<vm>`) whose NICs are veth pairs, the host side (`vxmv<hash>`)
 * plugged into the network's bridge in the node namespace as bridge CNI would. Each VM runs a TCP echo on
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
import { addVm, nsName, plugPort, shortHash } from './topology.js';
import type { PortBinding } from '../dataplane/port-binding.js';

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
      port: `vxmv${shortHash(`${netns}/${n.iface}`)}`,
      bridge: names.bridge(n.vni),
      ifname: `eth${i}`,
    })),
  };
}

/** The VM NIC a lab port is bound to (the VMI is `<namespace>/<name>`, its interface the NIC's name). */
export function portBinding(vm: LabVmState, nic: LabVmState['interfaces'][number]): PortBinding {
  return { vm: `${vm.namespace}/${vm.name}`, iface: nic.name };
}

export function nodeNetns(s: LabState, node: string): string {
  const n = s.nodes.find((x) => x.name === node);
  if (!n) throw new Error(`lab ${s.lab} has no node ${node}`);
  return n.netns;
}

export async function createVm(s: LabState, vm: LabVmState): Promise<void> {
  const host = nodeNetns(s, vm.node);
  const [first, ...rest] = vm.interfaces;
  if (!first) {
    await run(['ip', 'netns', 'add', vm.netns]);
    await run(['ip', 'link', 'set', 'lo', 'up'], { netns: vm.netns });
  } else {
    const fixed = !first.dhcp;
    await addVm({
      netns: vm.netns, nodeNetns: host, port: first.port, bridge: first.bridge, mac: first.mac,
      address: fixed ? `${first.ip}/${first.prefixLen}` : undefined, gateway: fixed ? first.gateway : undefined, mtu: first.mtu, ifname: first.ifname,
      binding: portBinding(vm, first),
    });
  }
  for (const nic of rest) {
    await run(['ip', 'link', 'add', nic.ifname, 'address', nic.mac, 'mtu', String(nic.mtu), 'type', 'veth', 'peer', 'name', nic.port, 'mtu', String(nic.mtu), 'netns', host], { netns: vm.netns });
    await plugPort(host, nic.port, nic.bridge, portBinding(vm, nic));
    if (!nic.dhcp) await run(['ip', 'addr', 'add', `${nic.ip}/${nic.prefixLen}`, 'dev', nic.ifname], { netns: vm.netns });
    await run(['ip', 'link', 'set', nic.ifname, 'up'], { netns: vm.netns });
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

export async function deleteVm(vm: LabVmState): Promise<void> {
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
