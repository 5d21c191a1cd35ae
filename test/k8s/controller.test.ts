/**
 * The controller against a real kube-apiserver + etcd, as its ServiceAccount with deploy/'s RBAC: NADs,
 * IPAM through etcd's optimistic concurrency (two controllers at once), restarts, leader election and
 * failover through a coordination.k8s.io Lease. One control plane for the file: each test has its own
 * namespaces and VNIs (VNIs are unique across the cluster).
 */
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { podBoundToken } from '../../src/controlplane/pod-token.js';
import { runController, type Controller } from '../../src/controller/index.js';
import type { KObject } from '../../src/k8s/client.js';
import { RESOURCES } from '../../src/k8s/resources.js';
import { VXMESH_API } from '../../src/model/schema.js';
import { auditOf, createObject, eventsIn, migrateVmi, quietLog, startKube, until, vmi, type Kube } from './helpers.js';

let kube: Kube;
let controllerKubeconfig: string;
const controllers: Controller[] = [];
let identities = 0;

beforeAll(async () => {
  kube = await startKube({ audit: true });
  await kube.applyDeploy();
  controllerKubeconfig = await kube.serviceAccountKubeconfig('vxmesh-controller');
  await createObject(kube.client, { apiVersion: 'network.harvesterhci.io/v1beta1', kind: 'ClusterNetwork', metadata: { name: 'overlay' } });
  await createObject(kube.client, { apiVersion: VXMESH_API, kind: 'VxlanConfig', metadata: { name: 'overlay-all' }, spec: { clusterNetwork: 'overlay', uplink: { nics: ['vxmu0'], linkAttributes: { mtu: 1500 } } } });
});
afterEach(async () => {
  for (const c of controllers.splice(0)) await c.stop();
});
afterAll(async () => kube?.stop());

interface Tenant {
  /** Namespace of network blue (VNI `vni`, 10.10.0.0/24). */
  a: string;
  /** Namespace of network red (VNI `vni + 1`, the same CIDR, MTU 1400). */
  b: string;
  vni: number;
}

let tenants = 0;
/** Two tenants' networks in namespaces of their own, as test/fixtures/k8s-base.yaml has them, with VNIs no other test uses. */
async function tenant(): Promise<Tenant> {
  const n = ++tenants;
  const t = { a: `t${n}-a`, b: `t${n}-b`, vni: 100 + 10 * n };
  await createObject(kube.client, network(t.a, 'blue', t.vni, '10.10.0.0/24'));
  await createObject(kube.client, { ...network(t.b, 'red', t.vni + 1, '10.10.0.0/24'), spec: { ...network(t.b, 'red', t.vni + 1, '10.10.0.0/24').spec, mtu: 1400 } });
  return t;
}
const network = (namespace: string, name: string, vni: number, cidr: string): KObject => ({
  apiVersion: VXMESH_API, kind: 'VxlanNetwork', metadata: { name, namespace }, spec: { clusterNetwork: 'overlay', vni, cidr },
});

async function controller(extra: Record<string, unknown> = {}): Promise<Controller & { identity: string }> {
  const identity = `c${++identities}`;
  const c = await runController({
    kubeconfigYaml: controllerKubeconfig, log: quietLog, identity, namespace: 'vxmesh-system',
    leaseDurationMs: 1000, renewDeadlineMs: 800, retryPeriodMs: 100, claimGraceMs: 500, ...extra,
  });
  controllers.push(c);
  return Object.assign(c, { identity });
}

const allocations = async (ns: string) => (await kube.client.list(RESOURCES.allocations, ns)).items;
const claimsOf = async (network: string) => (await kube.client.list(RESOURCES.claims)).items.filter((c) => c.spec.network === network);
const ipOf = async (ns: string, vm: string) => (await kube.client.get(RESOURCES.allocations, `${vm}.nic1`, ns))?.spec.ip as string | undefined;
const mac = (i: number) => `02:00:00:01:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
const condition = (n: KObject | undefined, type: string) => n?.status?.conditions?.find((c: any) => c.type === type);

describe('controller', () => {
  it('creates the NetworkAttachmentDefinition of every network: shaped for Harvester\'s webhook (bridge <cn>-br, uplink MTU), running vxmesh-cni with the VNI and overlay MTU', async () => {
    const t = await tenant();
    await controller();
    const nad = await until('NAD red', () => kube.client.get(RESOURCES.nads, 'red', t.b));
    expect(JSON.parse(nad.spec.config)).toEqual({
      cniVersion: '1.0.0', name: 'red', bridge: 'overlay-br', mtu: 1500,
      plugins: [{ type: 'vxmesh-cni', vni: t.vni + 1, mtu: 1400, capabilities: { mac: true } }],
    });
    expect(nad.metadata.labels).toMatchObject({ 'network.harvesterhci.io/type': 'UntaggedNetwork', 'network.harvesterhci.io/clusternetwork': 'overlay', 'network.vxmesh.io/vni': String(t.vni + 1) });
    const blue = await until('NAD blue', () => kube.client.get(RESOURCES.nads, 'blue', t.a));
    expect(JSON.parse(blue.spec.config).plugins[0].mtu).toBe(1450);
    const net = await until('Ready condition', async () => {
      const n = await kube.client.get(RESOURCES.vxlanNetworks, 'blue', t.a);
      return condition(n, 'Ready')?.status === 'True' ? n : undefined;
    });
    expect(condition(net, 'InvalidSpec').status).toBe('False');
  });

  it('allocates an address when a VM is created and keeps it when the VMI migrates', async () => {
    const t = await tenant();
    const c = await controller();
    await createObject(kube.client, vmi('vm1', t.a, 'blue', mac(1), 'node1'));
    const ip = await until('allocation of vm1', () => ipOf(t.a, 'vm1'));
    expect(ip).toBe('10.10.0.2'); // .1 is the gateway
    const before = await kube.client.get(RESOURCES.allocations, 'vm1.nic1', t.a);
    const migrated = await migrateVmi(kube.client, t.a, 'vm1', 'node1', 'node2');
    expect(migrated.status.nodeName).toBe('node2');
    await createObject(kube.client, vmi('vm2', t.a, 'blue', mac(2), 'node2'));
    await until('allocation of vm2', () => ipOf(t.a, 'vm2'));
    await c.idle();
    const after = await kube.client.get(RESOURCES.allocations, 'vm1.nic1', t.a);
    expect(after!.spec.ip).toBe(ip);
    expect(after!.metadata.resourceVersion).toBe(before!.metadata.resourceVersion);
  });

  it('keeps every address across a controller restart and releases addresses of VMs deleted meanwhile', async () => {
    const t = await tenant();
    const c1 = await controller();
    for (let i = 1; i <= 10; i++) await createObject(kube.client, vmi(`vm${i}`, t.a, 'blue', mac(i), `node${i % 3}`));
    await until('10 allocations', async () => (await allocations(t.a)).length === 10);
    await c1.idle();
    const before = new Map((await allocations(t.a)).map((a) => [a.metadata.name, { ip: a.spec.ip, rv: a.metadata.resourceVersion }]));
    await c1.stop();
    await kube.client.delete(RESOURCES.vmis, 'vm3', t.a);
    await createObject(kube.client, vmi('vm11', t.a, 'blue', mac(11), 'node1'));
    const c2 = await controller();
    await until('vm11 allocated', () => ipOf(t.a, 'vm11'));
    await until('vm3 released', async () => !(await ipOf(t.a, 'vm3')));
    await c2.idle();
    const after = new Map((await allocations(t.a)).map((a) => [a.metadata.name, { ip: a.spec.ip, rv: a.metadata.resourceVersion }]));
    // Every other allocation is the very same object: same address, not even rewritten.
    for (const [name, was] of before) if (name !== 'vm3.nic1') expect(after.get(name), name).toEqual(was);
    expect(after.get('vm11.nic1')!.ip).toBe(before.get('vm3.nic1')!.ip); // the lowest free address again, only after release
    await until('claims match allocations', async () => (await claimsOf(`${t.a}/blue`)).length === 10);
    expect((await claimsOf(`${t.a}/blue`)).map((c) => c.spec.ip).sort()).toEqual([...after.values()].map((a) => a.ip).sort());
  });

  it('keeps the address of a stopped VM (VirtualMachine without VMI) and releases it when the VM is deleted', async () => {
    const t = await tenant();
    const c = await controller();
    const template = vmi('vm1', t.a, 'blue', mac(1), 'node1');
    await createObject(kube.client, { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name: 'vm1', namespace: t.a }, spec: { running: true, template: { metadata: {}, spec: template.spec } } });
    await createObject(kube.client, template);
    const ip = await until('allocation', () => ipOf(t.a, 'vm1'));
    await kube.client.delete(RESOURCES.vmis, 'vm1', t.a); // VM stopped or restarting
    await createObject(kube.client, vmi('vm2', t.a, 'blue', mac(2), 'node1'));
    await until('vm2 allocated', () => ipOf(t.a, 'vm2'));
    await c.idle();
    expect(await ipOf(t.a, 'vm1')).toBe(ip);
    await createObject(kube.client, vmi('vm1', t.a, 'blue', mac(1), 'node3')); // started again
    await c.idle();
    expect(await ipOf(t.a, 'vm1')).toBe(ip);
    await kube.client.delete(RESOURCES.vmis, 'vm1', t.a);
    await kube.client.delete(RESOURCES.vms, 'vm1', t.a);
    await until('vm1 released', async () => !(await ipOf(t.a, 'vm1')));
    await until('claim released', async () => !(await kube.client.get(RESOURCES.claims, `${t.a}.blue.${ip}`)));
  });

  it('gives 200 concurrently created VMs 200 distinct addresses, even with two controllers acting at once', async () => {
    const t = await tenant();
    const t0 = Date.now();
    const a = await controller({ leaderElection: false });
    const b = await controller({ leaderElection: false });
    await Promise.all(Array.from({ length: 200 }, (_, i) => createObject(kube.client, vmi(`vm${i}`, t.a, 'blue', mac(i + 1), `node${i % 3}`))));
    await until('200 allocations', async () => (await allocations(t.a)).length === 200, 90_000);
    await Promise.all([a.idle(), b.idle()]);
    const all = await allocations(t.a);
    const ips = all.map((x) => x.spec.ip);
    expect(new Set(ips).size).toBe(200);
    expect(ips.every((ip) => ip.startsWith('10.10.0.'))).toBe(true);
    await until('one claim per allocation', async () => (await claimsOf(`${t.a}/blue`)).length === 200, 30_000);
    expect(new Set((await claimsOf(`${t.a}/blue`)).map((c) => c.spec.ip))).toEqual(new Set(ips));
    // Both acted, and raced for the same addresses: etcd's optimistic concurrency refused the loser's claim (409).
    expect(a.stats().passes).toBeGreaterThan(0);
    expect(b.stats().passes).toBeGreaterThan(0);
    const claimWrites = auditOf(kube.cp, (e) => e.user.username === 'system:serviceaccount:vxmesh-system:vxmesh-controller' && e.verb === 'create' && e.objectRef?.resource === 'vxlanipclaims', t0);
    expect(claimWrites.filter((e) => e.responseStatus?.code === 409).length).toBeGreaterThan(0);
  });

  it('refuses a fixed IP another VM holds without touching the holder, and reports rejected VMIs by Events in their own namespace', async () => {
    const t = await tenant();
    const c = await controller();
    await createObject(kube.client, vmi('vm1', t.a, 'blue', mac(1), 'node1'));
    const held = await until('allocation of vm1', () => ipOf(t.a, 'vm1'));
    const before = await kube.client.get(RESOURCES.allocations, 'vm1.nic1', t.a);
    await createObject(kube.client, vmi('thief', t.a, 'blue', mac(2), 'node1', { annotations: { 'network.vxmesh.io/ip-address': held } }));
    await createObject(kube.client, vmi('intruder', t.b, `${t.a}/blue`, mac(3), 'node1'));
    // Positive control: a free fixed IP is granted.
    await createObject(kube.client, vmi('fair', t.a, 'blue', mac(4), 'node1', { annotations: { 'network.vxmesh.io/ip-address': '10.10.0.77' } }));
    expect(await until('fair allocated', () => ipOf(t.a, 'fair'))).toBe('10.10.0.77');
    const theft = await until('event on thief', async () => (await eventsIn(kube.client, t.a)).find((e) => e.involvedObject.name === 'thief'));
    expect(theft).toMatchObject({ type: 'Warning', reason: 'InvalidSpec', involvedObject: { kind: 'VirtualMachineInstance', namespace: t.a } });
    expect(theft.message).toBe(`VirtualMachineInstance ${t.a}/thief: metadata.annotations["network.vxmesh.io/ip-address"] ${held} is already allocated to ${t.a}/vm1 nic1 in VxlanNetwork ${t.a}/blue`);
    const intrusion = await until('event on intruder', async () => (await eventsIn(kube.client, t.b)).find((e) => e.involvedObject.name === 'intruder'));
    expect(intrusion.message).toBe(`VirtualMachineInstance ${t.b}/intruder: spec.networks[0].multus.networkName ${t.a}/blue: no VxlanNetwork this namespace may use`);
    await c.idle();
    const after = await kube.client.get(RESOURCES.allocations, 'vm1.nic1', t.a);
    expect(after!.metadata.resourceVersion).toBe(before!.metadata.resourceVersion);
    expect(await ipOf(t.a, 'thief')).toBeUndefined();
    expect(await ipOf(t.b, 'intruder')).toBeUndefined();
    expect((await eventsIn(kube.client, t.a)).filter((e) => e.involvedObject.name === 'thief')).toHaveLength(1); // reported once
  });

  it('marks an invalid VxlanNetwork with a condition and an Event and changes nothing else', async () => {
    const t = await tenant();
    const c = await controller();
    await createObject(kube.client, vmi('vm1', t.a, 'blue', mac(1), 'node1'));
    await until('allocation', () => ipOf(t.a, 'vm1'));
    await c.idle();
    await new Promise((r) => setTimeout(r, 100));
    await c.idle();
    // The objects of these tenants (the networks' claims are cluster-scoped, named after the network).
    const snapshot = async () => {
      const out: Record<string, string> = {};
      for (const res of [RESOURCES.nads, RESOURCES.allocations, RESOURCES.vxlanNetworks]) {
        for (const ns of [t.a, t.b]) for (const o of (await kube.client.list(res, ns)).items) out[`${res.plural}/${ns}/${o.metadata.name}`] = o.metadata.resourceVersion;
      }
      for (const o of (await kube.client.list(RESOURCES.claims)).items) if ([`${t.a}/blue`, `${t.b}/red`].includes(o.spec.network)) out[`claims/${o.metadata.name}`] = o.metadata.resourceVersion;
      return out;
    };
    const before = await snapshot();
    await createObject(kube.client, network(t.a, 'green', t.vni, '10.20.0.0/24'));
    const green = await until('InvalidSpec condition', async () => {
      const n = await kube.client.get(RESOURCES.vxlanNetworks, 'green', t.a);
      return condition(n, 'InvalidSpec')?.status === 'True' ? n : undefined;
    });
    expect(condition(green, 'InvalidSpec').message).toContain(`spec.vni ${t.vni} is already used by VxlanNetwork ${t.a}/blue (VNIs are unique across the cluster`);
    expect(condition(green, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    const events = await until('event', async () => {
      const items = await eventsIn(kube.client, t.a);
      return items.length ? items : undefined;
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'Warning', reason: 'InvalidSpec', involvedObject: { kind: 'VxlanNetwork', name: 'green', namespace: t.a } });
    await c.idle();
    const after = await snapshot();
    delete after[`vxlannetworks/${t.a}/green`];
    expect(after).toEqual(before);
    expect(await kube.client.get(RESOURCES.nads, 'green', t.a)).toBeUndefined();
  });

  it('reports PoolExhausted when a network runs out of addresses', async () => {
    const ns = `t${++tenants}-tiny`;
    await createObject(kube.client, network(ns, 'tiny', 100 + 10 * tenants, '10.30.0.0/30'));
    await controller();
    await createObject(kube.client, vmi('vm1', ns, 'tiny', mac(1), 'node1'));
    await until('vm1 allocated', () => ipOf(ns, 'vm1'));
    await createObject(kube.client, vmi('vm2', ns, 'tiny', mac(2), 'node1'));
    const net = await until('PoolExhausted', async () => {
      const n = await kube.client.get(RESOURCES.vxlanNetworks, 'tiny', ns);
      return condition(n, 'PoolExhausted')?.status === 'True' ? n : undefined;
    });
    expect(condition(net, 'PoolExhausted').message).toContain('10.30.0.0/30 is exhausted');
    expect(await ipOf(ns, 'vm2')).toBeUndefined();
  });

  it('serves /readyz and Prometheus /metrics: leadership, passes, writes of the last pass', async () => {
    const t = await tenant();
    const c = await controller({ leaderElection: false, healthPort: 0 });
    await createObject(kube.client, vmi('vm1', t.a, 'blue', mac(1), 'node1'));
    await until('an address for vm1', () => ipOf(t.a, 'vm1'));
    await c.idle();
    const get = (p: string) => fetch(`http://127.0.0.1:${c.healthPort}${p}`);
    expect((await get('/readyz')).status).toBe(200);
    const text = await (await get('/metrics')).text();
    expect(text).toContain('vxmesh_controller_leader 1');
    expect(Number(/^vxmesh_controller_passes_total (\d+)$/m.exec(text)?.[1])).toBe(c.stats().passes);
    expect(c.stats().passes).toBeGreaterThan(0);
    expect(text).toMatch(/# TYPE vxmesh_controller_last_pass_writes gauge/);
  });
});

describe('controller leadership through a coordination.k8s.io Lease', () => {
  it('elects one leader and fails over when it stops (the lease released)', async () => {
    const t = await tenant();
    const a = await controller();
    await until('a leads', () => a.isLeader());
    const b = await controller();
    await new Promise((r) => setTimeout(r, 300));
    expect(b.isLeader()).toBe(false);
    const lease = await kube.client.get(RESOURCES.leases, 'vxmesh-controller', 'vxmesh-system');
    expect(lease!.spec.holderIdentity).toBe(a.identity);
    await a.stop();
    await until('b leads', () => b.isLeader(), 5000);
    expect((await kube.client.get(RESOURCES.leases, 'vxmesh-controller', 'vxmesh-system'))!.spec.holderIdentity).toBe(b.identity);
    await createObject(kube.client, vmi('vm1', t.a, 'blue', mac(1), 'node1'));
    await until('allocation by the new leader', () => ipOf(t.a, 'vm1'));
  });

  it('fails over when the leader loses the API server without releasing the lease, never two leaders at once', async () => {
    const t = await tenant();
    // Each replica with its own pod's token, as the Deployment's pods have them: deleting a's pod revokes its
    // credentials at once (like a pod gone with its node) — a cannot renew nor release.
    const tokenOf = async (pod: string) => kube.cp.tokenKubeconfig(await podBoundToken(kube.cp, { namespace: 'vxmesh-system', serviceAccount: 'vxmesh-controller', node: 'node1', pod }), 'system:serviceaccount:vxmesh-system:vxmesh-controller');
    const a = await controller({ kubeconfigYaml: await tokenOf('vxmesh-controller-a'), minBackoffMs: 50, maxBackoffMs: 200 });
    await until('a leads', () => a.isLeader());
    const b = await controller({ kubeconfigYaml: await tokenOf('vxmesh-controller-b') });
    let both = 0;
    const sampler = setInterval(() => void (a.isLeader() && b.isLeader() && both++), 5);
    try {
      await new Promise((r) => setTimeout(r, 300));
      expect(b.isLeader()).toBe(false);
      await kube.client.kc.makeApiClient(CoreV1Api).deleteNamespacedPod({ namespace: 'vxmesh-system', name: 'vxmesh-controller-a', gracePeriodSeconds: 0 });
      // The API server caches a token's successful authentication for 10 s: then a's renewals get 401.
      await until('a stepped down', () => !a.isLeader(), 20_000);
      await until('b leads', () => b.isLeader(), 5000);
    } finally {
      clearInterval(sampler);
    }
    expect(both).toBe(0);
    const lease = (await kube.client.get(RESOURCES.leases, 'vxmesh-controller', 'vxmesh-system'))!;
    expect(lease.spec.holderIdentity).toBe(b.identity);
    expect(lease.spec.leaseTransitions).toBeGreaterThanOrEqual(1);
    await createObject(kube.client, vmi('vm1', t.a, 'blue', mac(1), 'node1'));
    await until('allocation by the new leader', () => ipOf(t.a, 'vm1'));
  });

  it('steps down when it cannot renew its lease and leads again once the API server is back', async () => {
    const t = await tenant();
    const c = await controller({ minBackoffMs: 50, maxBackoffMs: 200 });
    await until('leads', () => c.isLeader());
    await kube.cp.stopApiServer();
    try {
      await until('stepped down', () => !c.isLeader(), 5000);
    } finally {
      await kube.cp.startApiServer();
    }
    await until('leads again', () => c.isLeader(), 15_000);
    await createObject(kube.client, vmi('vm1', t.a, 'blue', mac(1), 'node1'));
    await until('allocation after recovery', () => ipOf(t.a, 'vm1'), 15_000);
  });
});

describe('controller IPAM recovery', () => {
  it('resumes an interrupted allocation from its claim and skips addresses claimed by others until they are cleaned up', async () => {
    const t = await tenant();
    const claim = (ip: string, vm: string, claimedAt = new Date().toISOString()) => ({
      apiVersion: VXMESH_API, kind: 'VxlanIPClaim',
      metadata: { name: `${t.a}.blue.${ip}`, annotations: { 'network.vxmesh.io/claimed-at': claimedAt } },
      spec: { network: `${t.a}/blue`, ip, owner: { namespace: t.a, vm, interface: 'nic1' } },
    });
    // A previous controller claimed .7 for vm1 and died before writing the allocation; .2 is claimed by a VM
    // this controller has not seen (yet).
    await createObject(kube.client, claim('10.10.0.7', 'vm1'));
    await createObject(kube.client, claim('10.10.0.2', 'ghost'));
    await createObject(kube.client, vmi('vm1', t.a, 'blue', mac(1), 'node1'));
    await createObject(kube.client, vmi('vm2', t.a, 'blue', mac(2), 'node1'));
    await controller({ claimGraceMs: 1500 });
    expect(await until('vm1 allocated', () => ipOf(t.a, 'vm1'))).toBe('10.10.0.7');
    expect(await until('vm2 allocated', () => ipOf(t.a, 'vm2'))).toBe('10.10.0.3');
    await until('orphan claim removed after the grace period', async () => !(await kube.client.get(RESOURCES.claims, `${t.a}.blue.10.10.0.2`)), 5000);
    await createObject(kube.client, vmi('vm3', t.a, 'blue', mac(3), 'node1'));
    expect(await until('vm3 allocated', () => ipOf(t.a, 'vm3'))).toBe('10.10.0.2');
  });

  it('refuses deleting a network whose addresses VMs hold (admission policy vxmesh-network-in-use); once its VMs are gone, or with the override annotation, the delete goes through and the controller removes its NAD and allocations', async () => {
    const t = await tenant();
    await controller();
    const allocated = async (ns: string, name: string) => (await kube.client.get(RESOURCES.vxlanNetworks, name, ns))?.status?.allocatedIPs as number | undefined;
    /** What `kubectl delete` prints on stderr ('' when it succeeded). */
    const kubectlDelete = (ns: string, name: string) => {
      try {
        kube.kubectl('delete', 'vxlannetwork', name, '-n', ns, '--wait=false');
        return '';
      } catch (err) {
        return String((err as { stderr?: string }).stderr ?? err);
      }
    };
    await createObject(kube.client, vmi('vm1', t.b, 'red', mac(1), 'node1'));
    await until('allocation', () => ipOf(t.b, 'vm1'));
    await until('red counts it', async () => (await allocated(t.b, 'red')) === 1);
    const refused = kubectlDelete(t.b, 'red');
    expect(refused).toContain('vxmesh-network-in-use');
    expect(refused).toContain(`VxlanNetwork ${t.b}/red: status.allocatedIPs is 1: VMs still hold its addresses`);
    expect(await kube.client.get(RESOURCES.vxlanNetworks, 'red', t.b)).toBeDefined();
    expect(await ipOf(t.b, 'vm1')).toBeDefined();
    // Its VM gone (VMI deleted, no VirtualMachine): the controller releases the address, the delete passes.
    await createObject(kube.client, vmi('vm2', t.a, 'blue', mac(2), 'node2'));
    await until('blue counts vm2', async () => (await allocated(t.a, 'blue')) === 1);
    expect(kubectlDelete(t.a, 'blue')).toContain('status.allocatedIPs is 1');
    await kube.client.delete(RESOURCES.vmis, 'vm2', t.a);
    await until('blue released', async () => (await allocated(t.a, 'blue')) === 0);
    expect(kubectlDelete(t.a, 'blue')).toBe('');
    await until('blue NAD removed', async () => !(await kube.client.get(RESOURCES.nads, 'blue', t.a)));
    // The administrator's override: annotated, red goes although vm1 holds an address, and its state follows.
    kube.kubectl('annotate', 'vxlannetwork', 'red', '-n', t.b, 'network.vxmesh.io/allow-delete-in-use=true');
    expect(kubectlDelete(t.b, 'red')).toBe('');
    await until('NAD removed', async () => !(await kube.client.get(RESOURCES.nads, 'red', t.b)));
    await until('allocation removed', async () => !(await ipOf(t.b, 'vm1')));
    await until('claims removed', async () => (await claimsOf(`${t.b}/red`)).length === 0);
  });
});
