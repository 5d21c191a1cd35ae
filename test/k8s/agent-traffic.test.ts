/**
 * The whole Kubernetes flow with real parts: a real kube-apiserver + etcd with deploy/ applied and the
 * upstream CRDs, the controller (IPAM) and two real agents (Kubernetes source) running as their
 * ServiceAccounts with deploy/'s RBAC (the agents with tokens bound to pods on their nodes), programming
 * real node namespaces, in both dataplane modes. VMs are created in the API; traffic flows between real
 * namespaces. One control plane and one controller for the file; each mode has its own tenant network
 * (tenant-a/blue for kernel, tenant-b/red for bpf, both 10.10.0.0/24), nodes and underlay.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/index.js';
import { runController, type Controller } from '../../src/controller/index.js';
import { names } from '../../src/dataplane/names.js';
import { RESOURCES } from '../../src/k8s/resources.js';
import { addHost, addVm, createUnderlay, destroyNamespaces, moveVmPort, nsName } from '../../src/lab/topology.js';
import { createKubernetesSource } from '../../src/sources/kubernetes/index.js';
import { run } from '../../src/util/exec.js';
import { ping, sh } from '../helpers/kernel-lab.js';
import { applyFixture, createObject, migrateVmi, quietLog, startKube, until, vmi, type Kube, type SecondApiServer } from './helpers.js';

const MODES = (process.env.E2E_MODES ?? 'kernel,bpf').split(',').filter(Boolean) as Array<'kernel' | 'bpf'>;
/** The fixture's network each mode's VMs use (test/fixtures/k8s-base.yaml). */
const NETWORK = { kernel: { namespace: 'tenant-a', name: 'blue', vni: 100, mtu: 1450 }, bpf: { namespace: 'tenant-b', name: 'red', vni: 200, mtu: 1400 } } as const;

let kube: Kube;
let controller: Controller;
let second: SecondApiServer | undefined;

beforeAll(async () => {
  kube = await startKube();
  await kube.applyDeploy();
  await applyFixture(kube.client, new URL('../fixtures/k8s-base.yaml', import.meta.url).pathname);
  controller = await runController({ kubeconfigYaml: await kube.serviceAccountKubeconfig('vxmesh-controller'), log: quietLog, leaderElection: false });
});
afterAll(async () => {
  await controller?.stop().catch(() => {});
  await kube?.stop().catch(() => {});
});

describe.each(MODES)('Kubernetes source driving the %s dataplane', (mode) => {
  const id = randomBytes(3).toString('hex');
  const prefix = `vxm-k${id}`;
  const nodes = { n1: '198.18.0.11', n2: '198.18.0.12' };
  const nodeName = (n: string) => `k${id}-${n}`;
  const bpffsRoot = `/run/vxmesh-test/k${id}`;
  const net = NETWORK[mode];
  const agents: RunningAgent[] = [];
  const vms: string[] = [];

  async function ipOf(vm: string): Promise<string> {
    return until(`allocation of ${vm}`, async () => (await kube.client.get(RESOURCES.allocations, `${vm}.nic1`, net.namespace))?.spec?.ip as string | undefined, 15_000);
  }

  beforeAll(async () => {
    await createUnderlay(prefix);
    for (const [n, ip] of Object.entries(nodes)) {
      await addHost(prefix, n, `${ip}/24`);
      const bpffs = `${bpffsRoot}/${n}`;
      mkdirSync(bpffs, { recursive: true });
      await run(['mount', '-t', 'bpf', 'bpf', bpffs]);
      const source = createKubernetesSource({ kubeconfigYaml: await kube.agentKubeconfig(nodeName(n)), node: nodeName(n), log: quietLog });
      agents.push(await startAgent({ node: nodeName(n), source, mode, bpffs, netns: nsName(prefix, n), log: quietLog, resyncMs: 2000 }));
    }
  });

  afterAll(async () => {
    for (const a of agents.splice(0)) await a.stop().catch(() => {});
    // This mode's nodes leave the cluster: their VMs, statuses and Node objects go (the next mode's agents
    // use the same underlay addresses).
    for (const vm of vms) await kube.client.delete(RESOURCES.vmis, vm, net.namespace).catch(() => {});
    for (const n of Object.keys(nodes)) {
      await kube.client.delete(RESOURCES.statuses, `overlay.${nodeName(n)}`).catch(() => {});
      await kube.client.delete(RESOURCES.nodes, nodeName(n)).catch(() => {});
    }
    await destroyNamespaces([prefix, `vxmr-k${id}`]);
    for (const n of Object.keys(nodes)) await run(['umount', `${bpffsRoot}/${n}`], { allowFailure: true });
    await run(['rm', '-rf', bpffsRoot], { allowFailure: true });
  });

  /** The VMI as KubeVirt creates it (through `client`), then its port plugged once the controller gave it an address. */
  async function createVm(vm: string, mac: string, node: 'n1' | 'n2', client = kube.client): Promise<string> {
    vms.push(vm);
    await createObject(client, vmi(vm, net.namespace, net.name, mac, nodeName(node)));
    return plugVm(vm, mac, node);
  }
  async function plugVm(vm: string, mac: string, node: 'n1' | 'n2'): Promise<string> {
    const ip = await ipOf(vm);
    await addVm({ netns: nsName(prefix, vm), nodeNetns: nsName(prefix, node), port: `vxmk${vm}`, bridge: names.bridge(net.vni), mac, address: `${ip}/24`, gateway: '10.10.0.1', mtu: net.mtu, binding: { vm: `${net.namespace}/${vm}`, iface: 'nic1' } });
    return ip;
  }

  it('allocates addresses to VMs created in the API and every node forwards between them', async () => {
    const ip1 = await createVm('vm1', '02:00:00:00:01:01', 'n1');
    const ip2 = await createVm('vm2', '02:00:00:00:01:02', 'n2');
    expect(new Set([ip1, ip2]).size).toBe(2);
    await until('vm1 reaches vm2 across nodes', () => ping(nsName(prefix, 'vm1'), ip2, 1), 20_000);
    expect(await ping(nsName(prefix, 'vm2'), ip1)).toBe(true);
    expect(await ping(nsName(prefix, 'vm1'), '10.10.0.1')).toBe(true);
  });

  it('follows a migration written to the VMI status, keeping the IP', async () => {
    const ip2 = await ipOf('vm2');
    await moveVmPort('vxmkvm2', nsName(prefix, 'n2'), nsName(prefix, 'n1'), names.bridge(net.vni));
    await migrateVmi(kube.client, net.namespace, 'vm2', nodeName('n2'), nodeName('n1'));
    await until('vm1 reaches vm2 on its new node', () => ping(nsName(prefix, 'vm1'), ip2, 1), 20_000);
    expect(await ipOf('vm2')).toBe(ip2);
  });

  it('keeps forwarding while the API server is stopped and started again on the same etcd, and follows what changed meanwhile', async () => {
    second ??= await kube.secondApiServer();
    const ip1 = await ipOf('vm1');
    const pinger = sh(nsName(prefix, 'vm2'), ['ping', '-c', '150', '-i', '0.02', '-W', '1', ip1], 30_000);
    await kube.cp.stopApiServer();
    try {
      // While the agents' and the controller's API server is down, a VM is created through another one.
      vms.push('vm3');
      await createObject(second.client, vmi('vm3', net.namespace, net.name, '02:00:00:00:01:03', nodeName('n2')));
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      await kube.cp.startApiServer();
    }
    const r = await pinger;
    const received = Number(/(\d+) received/.exec(r.stdout)?.[1] ?? 0);
    expect(received).toBeGreaterThanOrEqual(148);
    const ip3 = await plugVm('vm3', '02:00:00:00:01:03', 'n2');
    await until('vm3 (created while the API server was down) is reachable', () => ping(nsName(prefix, 'vm1'), ip3, 1), 30_000);
    // And a change after it is back.
    const ip4 = await createVm('vm4', '02:00:00:00:01:04', 'n1');
    await until('vm4 (created after the restart) is reachable', () => ping(nsName(prefix, 'vm2'), ip4, 1), 30_000);
  });
});
