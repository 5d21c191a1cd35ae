/**
 * The data-path topologies: one per path mode, each with its own underlay switch, so the three exist at
 * once and runs can interleave them. Every namespace is `vxm-b<id><m>-…` (m = u|k|b), router namespaces
 * `vxmr-b<id><m>-…`.
 *   overlay (k, b): nodes n1..n3 (198.18.0.11-13 on vxmu0), an external host 198.18.0.254, VMs vm1 (n1),
 *     vm2 (n2), vm3 (n1) on VNI 100 (10.10.0.0/24, gateway 10.10.0.1), one dataplane per node, driven
 *     in-process (netns option), bpffs mounted per node.
 *   underlay (u): nodes n1, n2 and the external host; vm1/vm3 on a plain bridge in n1 (what bridge CNI gives
 *     without an overlay) for the same-node baseline.
 */
import type { Logger } from 'pino';
import { addHost, addVm, createUnderlay, destroyNamespaces, nsName } from '../lab/topology.js';
import type { Dataplane } from '../dataplane/dataplane.js';
import { createKernelDataplane } from '../dataplane/kernel/index.js';
import { createBpfDataplane, PinnedMaps, statPackets } from '../dataplane/bpf/index.js';
import { TUNNEL_PATHS, type TunnelPath } from '../dataplane/bpf/abi.js';
import type { NodeIntent } from '../intent/types.js';
import { gatewayMac, names } from '../dataplane/names.js';
import { mountBpffs } from '../util/bpffs.js';
import { DataplaneError } from '../errors.js';

export type PathMode = 'underlay' | 'kernel' | 'bpf';
export const PATH_MODES: PathMode[] = ['underlay', 'kernel', 'bpf'];

export const NODE_IPS: Record<string, string> = { n1: '198.18.0.11', n2: '198.18.0.12', n3: '198.18.0.13' };
export const EXT_IP = '198.18.0.254';
const VNI = 100;
const CIDR = '10.10.0.0/24';
const GATEWAY = '10.10.0.1';
const MTU = 1450;
const VMS = [
  { name: 'vm1', node: 'n1', ip: '10.10.0.11', mac: '52:54:00:0a:00:11' },
  { name: 'vm2', node: 'n2', ip: '10.10.0.12', mac: '52:54:00:0a:00:12' },
  { name: 'vm3', node: 'n1', ip: '10.10.0.13', mac: '52:54:00:0a:00:13' },
];

/** Where one kind of traffic goes in a topology: client namespace, server namespace, server address. */
export interface Flow {
  from: string;
  to: string;
  ip: string;
}

export const letter = (m: PathMode) => m[0]!;
export const bpffsRoot = (id: string) => `/run/vxmesh-bench/${id}`;

export class BenchTopology {
  readonly prefix: string;
  readonly nodes: string[];
  private readonly vms: typeof VMS;
  private readonly planes = new Map<string, Dataplane>();

  constructor(readonly id: string, readonly mode: PathMode, private readonly log: Logger) {
    this.prefix = `vxm-b${id}${letter(mode)}`;
    this.nodes = mode === 'underlay' ? ['n1', 'n2'] : ['n1', 'n2', 'n3'];
    this.vms = mode === 'underlay' ? VMS.filter((v) => v.node === 'n1') : VMS;
  }

  ns = (name: string) => nsName(this.prefix, name);
  nodeName = (n: string) => `b${this.id}${letter(this.mode)}-${n}`;
  nodeNamespaces = () => this.nodes.map(this.ns);
  get switchNs() {
    return this.ns('ul');
  }

  async build(): Promise<void> {
    await createUnderlay(this.prefix);
    for (const n of this.nodes) await addHost(this.prefix, n, `${NODE_IPS[n]}/24`);
    await addHost(this.prefix, 'ext', `${EXT_IP}/24`);
    for (const vm of this.vms) {
      await addVm({
        netns: this.ns(vm.name), nodeNetns: this.ns(vm.node), port: `vxmp${vm.name}`, bridge: names.bridge(VNI),
        mac: vm.mac, address: `${vm.ip}/24`, gateway: GATEWAY, mtu: MTU, binding: { vm: `bench/${vm.name}`, iface: 'default' },
      });
    }
    if (this.mode !== 'underlay') await this.reconcile();
  }

  /** Programs every node's dataplane from its intent; throws on any reported error. */
  async reconcile(): Promise<void> {
    for (const n of this.nodes) {
      const r = await (await this.plane(n)).reconcile(this.intent(n));
      if (r.errors.length) throw new DataplaneError('BENCH_RECONCILE', `${this.mode} dataplane on ${n}: ${r.errors.map((e) => e.message).join('; ')}`);
    }
  }

  private async plane(n: string): Promise<Dataplane> {
    let p = this.planes.get(n);
    if (p) return p;
    const opts = { node: this.nodeName(n), netns: this.ns(n), log: this.log };
    if (this.mode === 'bpf') {
      const dir = `${bpffsRoot(this.id)}/${letter(this.mode)}-${n}`;
      await mountBpffs(dir);
      p = createBpfDataplane({ ...opts, bpffs: dir });
    } else p = createKernelDataplane(opts);
    this.planes.set(n, p);
    return p;
  }

  /** bpf: packets per tunnel path (encap.h, vxm_from_uplink) summed over the nodes so far; {} otherwise. */
  tunnelPath(): Record<TunnelPath, number> | Record<string, never> {
    if (this.mode !== 'bpf') return {};
    const out = Object.fromEntries(TUNNEL_PATHS.map((v) => [v, 0])) as Record<TunnelPath, number>;
    for (const n of this.nodes) {
      const maps = PinnedMaps.open(names.pinDir(`${bpffsRoot(this.id)}/${letter(this.mode)}-${n}`));
      try {
        const stats = maps.readStats();
        for (const v of TUNNEL_PATHS) out[v] += statPackets(stats, VNI, v);
      } finally {
        maps.close();
      }
    }
    return out;
  }

  intent(node: string): NodeIntent {
    return {
      node: this.nodeName(node),
      clusterNetworks: [{
        name: 'overlay', uplink: 'vxmu0', uplinkMtu: 1500, localVtep: NODE_IPS[node]!, port: 4789,
        peers: this.nodes.filter((x) => x !== node).map((x) => NODE_IPS[x]!).sort(),
        networks: [{
          key: 'bench/net', vni: VNI, cidr: CIDR, prefixLen: 24, gateway: GATEWAY, gatewayMac: gatewayMac(VNI), natOutgoing: true, mtu: MTU,
          endpoints: this.vms
            .map((v) => ({ vm: `bench/${v.name}`, iface: 'default', mac: v.mac, ip: v.ip, node: this.nodeName(v.node), vtep: NODE_IPS[v.node]!, local: v.node === node }))
            .sort((a, b) => a.ip.localeCompare(b.ip)),
        }],
      }],
    };
  }

  /** VM -> VM across nodes (underlay: node -> node on the underlay addresses). */
  get cross(): Flow {
    return this.mode === 'underlay' ? { from: this.ns('n1'), to: this.ns('n2'), ip: NODE_IPS.n2! } : { from: this.ns('vm1'), to: this.ns('vm2'), ip: VMS[1]!.ip };
  }

  /** VM -> VM on the same node (underlay: two ports of a plain bridge). */
  get same(): Flow {
    return { from: this.ns('vm1'), to: this.ns('vm3'), ip: VMS[2]!.ip };
  }

  /** VM -> external host through the gateway NAT (underlay: node -> external host). */
  get external(): Flow {
    return { from: this.ns(this.mode === 'underlay' ? 'n1' : 'vm1'), to: this.ns('ext'), ip: EXT_IP };
  }

  /** Who resolves whom by ARP, on which device. */
  get arp(): { ns: string; dev: string; ip: string; captureNs: string } {
    return this.mode === 'underlay'
      ? { ns: this.ns('n1'), dev: 'vxmu0', ip: NODE_IPS.n2!, captureNs: this.ns('n1') }
      : { ns: this.ns('vm1'), dev: 'eth0', ip: VMS[1]!.ip, captureNs: this.ns('n1') };
  }

  async destroy(): Promise<void> {
    for (const p of this.planes.values()) await p.close().catch(() => undefined);
    this.planes.clear();
    await destroyNamespaces([this.prefix, `vxmr-b${this.id}${letter(this.mode)}`]);
  }
}
