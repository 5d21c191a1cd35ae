/**
 * A small lab for dataplane integration tests: underlay switch, 3 node namespaces (198.18.0.11-13 on
 * vxmu0), an external host (198.18.0.254) and VMs plugged into vxb<vni>. Intents are built by hand from
 * the VM placement, the way computeIntent would.
 */
import { randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';
import { createUnderlay, addHost, addVm, destroyNamespaces, nsName } from '../../src/lab/topology.js';
import type { NodeIntent, NetworkIntent } from '../../src/intent/types.js';
import { gatewayMac, names } from '../../src/dataplane/names.js';
import { run } from '../../src/util/exec.js';
import type { PortBinding } from '../../src/dataplane/port-binding.js';
import type { Dataplane } from '../../src/dataplane/dataplane.js';
import { unmountBpffs } from './bpffs.js';

export interface NetDef {
  key: string;
  vni: number;
  cidr: string;
  gateway: string;
  natOutgoing: boolean;
}
export interface VmDef {
  name: string;
  net: string; // NetDef.key
  node: string; // short node name n1..n3
  ip: string;
  mac: string;
}

export const NODE_IPS: Record<string, string> = { n1: '198.18.0.11', n2: '198.18.0.12', n3: '198.18.0.13' };
export const EXT_IP = '198.18.0.254';
export const MTU = 1450;

export class Lab {
  readonly id = randomBytes(3).toString('hex');
  readonly prefix = `vxm-t${this.id}`;
  readonly nodes = Object.keys(NODE_IPS);
  log: Logger = pino({ level: process.env.VXMESH_TEST_LOG ?? 'silent' });
  nets: NetDef[] = [];
  vms: VmDef[] = [];
  /** Extra peers per node (to admit a foreign VTEP in a test). */
  extraPeers: string[] = [];

  nodeName = (n: string) => `t${this.id}-${n}`;
  nodeNs = (n: string) => nsName(this.prefix, n);
  vmNs = (vm: string) => nsName(this.prefix, vm);
  get extNs() {
    return nsName(this.prefix, 'ext');
  }
  port = (vm: string) => `vxmp${vm}`;
  /** The VM NIC a port of `vm` is bound to (the intent's endpoint: default/<vm>, interface default). */
  binding = (vm: string): PortBinding => ({ vm: `default/${vm}`, iface: 'default' });

  async build(nets: NetDef[], vms: VmDef[]): Promise<void> {
    this.nets = nets;
    this.vms = vms;
    await createUnderlay(this.prefix);
    for (const n of this.nodes) await addHost(this.prefix, n, `${NODE_IPS[n]}/24`);
    await addHost(this.prefix, 'ext', `${EXT_IP}/24`);
    for (const vm of vms) await this.plug(vm);
  }

  async plug(vm: VmDef): Promise<void> {
    const net = this.net(vm.net);
    await addVm({
      netns: this.vmNs(vm.name), nodeNetns: this.nodeNs(vm.node), port: this.port(vm.name), bridge: names.bridge(net.vni),
      mac: vm.mac, address: `${vm.ip}/${net.cidr.split('/')[1]}`, gateway: net.gateway, mtu: MTU, binding: this.binding(vm.name),
    });
  }

  net(key: string): NetDef {
    return this.nets.find((n) => n.key === key)!;
  }

  intent(node: string): NodeIntent {
    const networks: NetworkIntent[] = this.nets
      .slice()
      .sort((a, b) => a.vni - b.vni)
      .map((n) => ({
        key: n.key, vni: n.vni, cidr: n.cidr, prefixLen: Number(n.cidr.split('/')[1]), gateway: n.gateway,
        gatewayMac: gatewayMac(n.vni), natOutgoing: n.natOutgoing, mtu: MTU,
        endpoints: this.vms
          .filter((v) => v.net === n.key)
          .map((v) => ({ vm: `default/${v.name}`, iface: 'default', mac: v.mac, ip: v.ip, node: this.nodeName(v.node), vtep: NODE_IPS[v.node]!, local: v.node === node }))
          .sort((a, b) => a.ip.localeCompare(b.ip)),
      }));
    return {
      node: this.nodeName(node),
      clusterNetworks: [{
        name: 'overlay', uplink: 'vxmu0', uplinkMtu: 1500, localVtep: NODE_IPS[node]!, port: 4789,
        peers: [...this.nodes.filter((x) => x !== node).map((x) => NODE_IPS[x]!), ...this.extraPeers].sort(),
        networks,
      }],
    };
  }

  /** The intent for `node` while VM `vm` migrates to node `target` (computeIntent's view of migrationState.targetNode). */
  migrating(node: string, vm: string, target: string): NodeIntent {
    const intent = this.intent(node);
    const mac = this.vms.find((v) => v.name === vm)!.mac;
    for (const ep of intent.clusterNetworks[0]!.networks.flatMap((n) => n.endpoints)) {
      if (ep.mac !== mac) continue;
      ep.migratingTo = { node: this.nodeName(target), vtep: NODE_IPS[target]! };
      if (node === target) ep.arriving = true;
    }
    return intent;
  }

  async destroy(): Promise<void> {
    await destroyNamespaces([this.prefix, `vxmr-t${this.id}`]);
  }
}

/** Runs argv in a namespace; returns exit code and output without throwing. */
export async function sh(netns: string, argv: string[], timeoutMs = 10_000) {
  return run(argv, { netns, allowFailure: true, timeoutMs });
}

export async function ping(netns: string, ip: string, count = 2): Promise<boolean> {
  const r = await sh(netns, ['ping', '-c', String(count), '-i', '0.2', '-W', '1', ip]);
  return r.exitCode === 0;
}

/** Starts a TCP server in `netns` answering every connection with `reply` (or the peer address). */
export async function startServer(netns: string, port: number, reply: string | 'peer'): Promise<void> {
  const cmd = reply === 'peer' ? 'echo $SOCAT_PEERADDR' : `echo ${reply}`;
  await run(['sh', '-c', `socat TCP-LISTEN:${port},reuseaddr,fork SYSTEM:'${cmd}' >/dev/null 2>&1 &`], { netns });
  for (let i = 0; i < 50; i++) {
    const r = await sh(netns, ['ss', '-ltnH', `sport = :${port}`]);
    if (r.stdout.trim()) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`server on ${netns}:${port} did not start`);
}

/** Connects from `netns` to ip:port and returns what the server said ('' on failure). */
export async function ask(netns: string, ip: string, port: number): Promise<string> {
  const r = await sh(netns, ['socat', '-T', '3', '-', `TCP:${ip}:${port},connect-timeout=3`], 8_000);
  return r.exitCode === 0 ? r.stdout.trim() : '';
}

/**
 * One reconcile pass of every node's dataplane with the lab's intent; fails the test on any error and
 * returns how many changes the pass applied in total (0 = converged).
 */
export async function reconcileAllNodes(lab: Lab, dp: (node: string) => Dataplane | Promise<Dataplane>): Promise<number> {
  let total = 0;
  for (const n of lab.nodes) {
    const r = await (await dp(n)).reconcile(lab.intent(n));
    if (r.errors.length) throw new Error(`errors on ${n}: ${JSON.stringify(r.errors)}`);
    total += r.changes;
  }
  return total;
}

/**
 * After a test: closes every node's dataplane (a stopped agent), destroys the lab and unmounts the bpffs
 * mounts, emptying both maps; the caller drops its lab reference.
 */
export async function teardownNodes(lab: Lab | undefined, planes: Map<string, Dataplane>, bpffs: Map<string, string>): Promise<void> {
  for (const p of planes.values()) await p.close();
  planes.clear();
  await lab?.destroy();
  for (const dir of bpffs.values()) await unmountBpffs(dir);
  bpffs.clear();
}
