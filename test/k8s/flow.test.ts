/**
 * Controller and agents' sources together on a real kube-apiserver + etcd, each as its ServiceAccount
 * (the agents with tokens bound to pods on their nodes): a VM created in the API becomes an endpoint
 * every node programs, and follows its migration written to the VMI's status.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runController, type Controller } from '../../src/controller/index.js';
import { computeIntent } from '../../src/intent/index.js';
import { createKubernetesSource, type KubernetesSource } from '../../src/sources/kubernetes/index.js';
import { applyFixture, createObject, migrateVmi, quietLog, startKube, until, vmi, type Kube } from './helpers.js';

let kube: Kube;
const running: Array<Controller | KubernetesSource> = [];
beforeAll(async () => {
  kube = await startKube({ audit: true });
  await kube.applyDeploy();
});
afterAll(async () => {
  for (const r of running.splice(0)) await r.stop();
  await kube?.stop();
});

describe('controller and agent source together', () => {
  it('turns a VM created in the API into an endpoint every node programs, and follows its migration', async () => {
    const { client } = kube;
    await applyFixture(client, new URL('../fixtures/k8s-base.yaml', import.meta.url).pathname);
    for (const [i, node] of ['node1', 'node2', 'node3'].entries()) {
      await createObject(client, { apiVersion: 'v1', kind: 'Node', metadata: { name: node } });
      await createObject(client, {
        apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanStatus', metadata: { name: `overlay.${node}` },
        status: { clusterNetwork: 'overlay', node, vtepIP: `198.18.0.${11 + i}`, ready: true },
      });
    }
    const controller = await runController({ kubeconfigYaml: await kube.serviceAccountKubeconfig('vxmesh-controller'), log: quietLog, leaderElection: false });
    running.push(controller);
    const sources: KubernetesSource[] = [];
    for (const node of ['node1', 'node2']) {
      const s = createKubernetesSource({ kubeconfigYaml: await kube.agentKubeconfig(node), node, log: quietLog });
      running.push(s);
      await s.start(() => {});
      sources.push(s);
    }
    await createObject(client, vmi('vm1', 'tenant-a', 'blue', '02:00:00:00:00:01', 'node1'));
    const endpoint = (node: string, s: KubernetesSource) =>
      computeIntent(s.current().snapshot, node).clusterNetworks[0]?.networks.find((n) => n.vni === 100)?.endpoints.find((e) => e.vm === 'tenant-a/vm1');
    const onNode2 = await until('node2 programs vm1', () => endpoint('node2', sources[1]!));
    expect(onNode2).toMatchObject({ ip: '10.10.0.2', mac: '02:00:00:00:00:01', node: 'node1', vtep: '198.18.0.11', local: false });
    expect(await until('node1 programs vm1 locally', () => endpoint('node1', sources[0]!))).toMatchObject({ local: true });
    await migrateVmi(client, 'tenant-a', 'vm1', 'node1', 'node2');
    const moved = await until('node2 sees vm1 local', () => endpoint('node2', sources[1]!)?.local && endpoint('node2', sources[1]!));
    expect(moved).toMatchObject({ ip: '10.10.0.2', vtep: '198.18.0.12' });
    expect(await until('node1 points at node2', () => endpoint('node1', sources[0]!)?.vtep === '198.18.0.12' && endpoint('node1', sources[0]!))).toMatchObject({ local: false });
  });
  it('settles: once nothing changes, the controller and agents write nothing (the server returns keys sorted; a read-back status is not a change)', async () => {
    const writes = () => kube.cp.auditEvents().filter((e) => ['create', 'update', 'patch'].includes(e.verb) && e.user.username.startsWith('system:serviceaccount:vxmesh-system:'));
    // Positive control: the controller writes when something does change.
    const before = writes().length;
    await createObject(kube.client, vmi('vm2', 'tenant-a', 'blue', '02:00:00:00:00:02', 'node2'));
    await until('the controller allocates for vm2', () => writes().length > before);
    await new Promise((r) => setTimeout(r, 2000));
    const settled = writes().length;
    await new Promise((r) => setTimeout(r, 3000));
    expect(writes().slice(settled).map((e) => `${e.verb} ${e.requestURI}`)).toEqual([]);
  });
});
