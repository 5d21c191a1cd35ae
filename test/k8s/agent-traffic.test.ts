/**
 * The whole Kubernetes flow with real parts: a real kube-apiserver + etcd with deploy/ applied and the
 * upstream CRDs, the controller (IPAM) and two real agents (Kubernetes source) running as their
 * ServiceAccounts with deploy/'s RBAC, programming real node namespaces, in both dataplane modes. VMs are
 * created in the API; traffic flows between real namespaces.
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
import { applyFixture, createObject, quietLog, startKube, until, vmi, type Kube } from './helpers.js';

describe.each(['kernel', 'bpf'] as const)('Kubernetes source driving the %s dataplane', (mode) => {
  const id = randomBytes(3).toString('hex');
  const prefix = `vxm-k${id}`;
  const nodes = { n1: '198.18.0.11', n2: '198.18.0.12' };
  const nodeName = (n: string) => `k${id}-${n}`;
  const bpffsRoot = `/run/vxmesh-test/k${id}`;
  let kube: Kube;
  let client: Kube['client'];
  let controller: Controller;
  const agents: RunningAgent[] = [];

  async function ipOf(vm: string): Promise<string> {
    return until(`allocation of ${vm}`, async () => (await client.get(RESOURCES.allocations, `${vm}.nic1`, 'tenant-a'))?.spec?.ip as string | undefined, 15_000);
  }

  beforeAll(async () => {
    kube = await startKube();
    client = kube.client;
    kube.applyDeploy();
    const agentKubeconfig = await kube.serviceAccountKubeconfig('vxmesh-agent');
    await applyFixture(client, new URL('../fixtures/k8s-base.yaml', import.meta.url).pathname);
    await createUnderlay(prefix);
    for (const [n, ip] of Object.entries(nodes)) {
      await addHost(prefix, n, `${ip}/24`);
      await createObject(client, { apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName(n) } });
      const bpffs = `${bpffsRoot}/${n}`;
      mkdirSync(bpffs, { recursive: true });
      await run(['mount', '-t', 'bpf', 'bpf', bpffs]);
      const source = createKubernetesSource({ kubeconfigYaml: agentKubeconfig, node: nodeName(n), log: quietLog });
      agents.push(await startAgent({ node: nodeName(n), source, mode, bpffs, netns: nsName(prefix, n), log: quietLog, resyncMs: 2000 }));
    }
    controller = await runController({ kubeconfigYaml: await kube.serviceAccountKubeconfig('vxmesh-controller'), log: quietLog, leaderElection: false });
  });

  afterAll(async () => {
    for (const a of agents.splice(0)) await a.stop().catch(() => {});
    await controller?.stop().catch(() => {});
    await kube?.stop().catch(() => {});
    await destroyNamespaces([prefix, `vxmr-k${id}`]);
    for (const n of Object.keys(nodes)) await run(['umount', `${bpffsRoot}/${n}`], { allowFailure: true });
    await run(['rm', '-rf', bpffsRoot], { allowFailure: true });
  });

  async function createVm(vm: string, mac: string, node: 'n1' | 'n2'): Promise<string> {
    await createObject(client, vmi(vm, 'tenant-a', 'blue', mac, nodeName(node)));
    const ip = await ipOf(vm);
    await addVm({ netns: nsName(prefix, vm), nodeNetns: nsName(prefix, node), port: `vxmk${vm}`, bridge: names.bridge(100), mac, address: `${ip}/24`, gateway: '10.10.0.1', mtu: 1450, binding: { vm: `tenant-a/${vm}`, iface: 'nic1' } });
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
    await moveVmPort('vxmkvm2', nsName(prefix, 'n2'), nsName(prefix, 'n1'), names.bridge(100));
    const v = (await client.get(RESOURCES.vmis, 'vm2', 'tenant-a'))!;
    await client.replace(RESOURCES.vmis, { ...v, status: { nodeName: nodeName('n1'), migrationState: { sourceNode: nodeName('n2'), targetNode: nodeName('n1'), completed: true } } });
    await until('vm1 reaches vm2 on its new node', () => ping(nsName(prefix, 'vm1'), ip2, 1), 20_000);
    expect(await ipOf('vm2')).toBe(ip2);
  });

  it('keeps forwarding while the API server restarts, and sees changes made after it is back', async () => {
    const ip1 = await ipOf('vm1');
    const pinger = sh(nsName(prefix, 'vm2'), ['ping', '-c', '150', '-i', '0.02', '-W', '1', ip1], 30_000);
    await kube.cp.restartApiServer(1500);
    const r = await pinger;
    const received = Number(/(\d+) received/.exec(r.stdout)?.[1] ?? 0);
    expect(received).toBeGreaterThanOrEqual(148);
    const ip3 = await createVm('vm3', '02:00:00:00:01:03', 'n2');
    await until('vm3 (created after the restart) is reachable', () => ping(nsName(prefix, 'vm1'), ip3, 1), 30_000);
  });
});
