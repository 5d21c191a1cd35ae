import { afterEach, describe, expect, it } from 'vitest';
import { runController, type Controller } from '../../src/controller/index.js';
import type { KubeClient } from '../../src/k8s/client.js';
import { RESOURCES } from '../../src/k8s/resources.js';
import type { ApiServerDouble } from '../../src/testing/apiserver/index.js';
import { applyFixture, createObject, quietLog, startDouble, until, vmi } from './helpers.js';

const FIXTURE = new URL('../fixtures/k8s-base.yaml', import.meta.url).pathname;
let api: ApiServerDouble;
let client: KubeClient;
const controllers: Controller[] = [];

async function setup(): Promise<void> {
  ({ api, client } = await startDouble());
  await applyFixture(client, FIXTURE);
}

async function controller(extra: Record<string, unknown> = {}): Promise<Controller> {
  const c = await runController({
    kubeconfigYaml: api.kubeconfig(), log: quietLog, identity: `c${controllers.length}`, namespace: 'vxmesh-system',
    leaseDurationMs: 1000, renewDeadlineMs: 800, retryPeriodMs: 100, claimGraceMs: 500, ...extra,
  });
  controllers.push(c);
  return c;
}

const allocations = async (ns?: string) => (await client.list(RESOURCES.allocations, ns)).items;
const ipOf = async (ns: string, vm: string) => (await client.get(RESOURCES.allocations, `${vm}.nic1`, ns))?.spec.ip as string | undefined;
const mac = (i: number) => `02:00:00:01:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;

afterEach(async () => {
  for (const c of controllers.splice(0)) await c.stop();
  await api?.close();
});

describe('controller', () => {
  it('creates the NetworkAttachmentDefinition of every network with a bridge CNI config on vxb<vni>', async () => {
    await setup();
    await controller();
    const nad = await until('NAD tenant-b/red', () => client.get(RESOURCES.nads, 'red', 'tenant-b'));
    expect(JSON.parse(nad.spec.config)).toEqual({ cniVersion: '0.3.1', name: 'red', type: 'bridge', bridge: 'vxb200', promiscMode: true, mtu: 1400, ipam: {} });
    expect(nad.metadata.labels).toMatchObject({ 'network.harvesterhci.io/type': 'OverlayNetwork', 'network.harvesterhci.io/clusternetwork': 'overlay', 'network.vxmesh.io/vni': '200' });
    const blue = await until('NAD tenant-a/blue', () => client.get(RESOURCES.nads, 'blue', 'tenant-a'));
    expect(JSON.parse(blue.spec.config).mtu).toBe(1450);
    const net = await until('Ready condition', async () => {
      const n = await client.get(RESOURCES.vxlanNetworks, 'blue', 'tenant-a');
      return n?.status?.conditions?.find((c: any) => c.type === 'Ready' && c.status === 'True') ? n : undefined;
    });
    expect(net.status.conditions.find((c: any) => c.type === 'InvalidSpec').status).toBe('False');
  });

  it('allocates an address when a VM is created and keeps it when the VMI migrates', async () => {
    await setup();
    await controller();
    await createObject(client, vmi('vm1', 'tenant-a', 'blue', mac(1), 'node1'));
    const ip = await until('allocation of vm1', () => ipOf('tenant-a', 'vm1'));
    expect(ip).toBe('10.10.0.2'); // .1 is the gateway
    const before = await client.get(RESOURCES.allocations, 'vm1.nic1', 'tenant-a');
    const v = (await client.get(RESOURCES.vmis, 'vm1', 'tenant-a'))!;
    const migrated = await client.replace(RESOURCES.vmis, { ...v, status: { nodeName: 'node2', migrationState: { sourceNode: 'node1', targetNode: 'node2', completed: true } } });
    expect(migrated.status.nodeName).toBe('node2');
    await createObject(client, vmi('vm2', 'tenant-a', 'blue', mac(2), 'node2'));
    await until('allocation of vm2', () => ipOf('tenant-a', 'vm2'));
    await controllers[0]!.idle();
    const after = await client.get(RESOURCES.allocations, 'vm1.nic1', 'tenant-a');
    expect(after!.spec.ip).toBe(ip);
    expect(after!.metadata.resourceVersion).toBe(before!.metadata.resourceVersion);
  });

  it('keeps every address across a controller restart and releases addresses of VMs deleted meanwhile', async () => {
    await setup();
    const c1 = await controller();
    for (let i = 1; i <= 10; i++) await createObject(client, vmi(`vm${i}`, 'tenant-a', 'blue', mac(i), `node${i % 3}`));
    await until('10 allocations', async () => (await allocations('tenant-a')).length === 10);
    const before = new Map((await allocations('tenant-a')).map((a) => [a.metadata.name, a.spec.ip]));
    await c1.stop();
    await client.delete(RESOURCES.vmis, 'vm3', 'tenant-a');
    await createObject(client, vmi('vm11', 'tenant-a', 'blue', mac(11), 'node1'));
    await controller();
    await until('vm11 allocated', () => ipOf('tenant-a', 'vm11'));
    await until('vm3 released', async () => !(await ipOf('tenant-a', 'vm3')));
    const after = new Map((await allocations('tenant-a')).map((a) => [a.metadata.name, a.spec.ip]));
    for (const [name, ip] of before) if (name !== 'vm3.nic1') expect(after.get(name)).toBe(ip);
    expect(after.get('vm11.nic1')).toBe(before.get('vm3.nic1')); // the lowest free address again, only after release
    const claims = (await client.list(RESOURCES.claims)).items;
    await until('claims match allocations', async () => (await client.list(RESOURCES.claims)).items.length === 10);
    expect(claims.every((c) => c.spec.network === 'tenant-a/blue')).toBe(true);
  });

  it('keeps the address of a stopped VM (VirtualMachine without VMI) and releases it when the VM is deleted', async () => {
    await setup();
    await controller();
    const template = vmi('vm1', 'tenant-a', 'blue', mac(1), 'node1');
    await createObject(client, { apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachine', metadata: { name: 'vm1', namespace: 'tenant-a' }, spec: { running: true, template: { metadata: {}, spec: template.spec } } });
    await createObject(client, template);
    const ip = await until('allocation', () => ipOf('tenant-a', 'vm1'));
    await client.delete(RESOURCES.vmis, 'vm1', 'tenant-a'); // VM stopped or restarting
    await createObject(client, vmi('vm2', 'tenant-a', 'blue', mac(2), 'node1'));
    await until('vm2 allocated', () => ipOf('tenant-a', 'vm2'));
    await controllers[0]!.idle();
    expect(await ipOf('tenant-a', 'vm1')).toBe(ip);
    await createObject(client, vmi('vm1', 'tenant-a', 'blue', mac(1), 'node3')); // started again
    await controllers[0]!.idle();
    expect(await ipOf('tenant-a', 'vm1')).toBe(ip);
    await client.delete(RESOURCES.vmis, 'vm1', 'tenant-a');
    await client.delete(RESOURCES.vms, 'vm1', 'tenant-a');
    await until('vm1 released', async () => !(await ipOf('tenant-a', 'vm1')));
    await until('claim released', async () => !(await client.get(RESOURCES.claims, `tenant-a.blue.${ip}`)));
  });

  it('gives 200 concurrently created VMs 200 distinct addresses, even with two controllers acting at once', async () => {
    await setup();
    await controller({ leaderElection: false });
    await controller({ leaderElection: false });
    await Promise.all(Array.from({ length: 200 }, (_, i) => createObject(client, vmi(`vm${i}`, 'tenant-a', 'blue', mac(i + 1), `node${i % 3}`))));
    const all = await until('200 allocations', async () => {
      const items = await allocations('tenant-a');
      return items.length === 200 ? items : undefined;
    }, 30_000);
    await Promise.all(controllers.map((c) => c.idle()));
    const ips = (await allocations('tenant-a')).map((a) => a.spec.ip);
    expect(new Set(ips).size).toBe(200);
    expect(all.every((a) => a.spec.ip.startsWith('10.10.0.'))).toBe(true);
    await until('one claim per allocation', async () => (await client.list(RESOURCES.claims)).items.length === 200, 10_000);
  });

  it('refuses a fixed IP another VM holds without touching the holder, and reports rejected VMIs by Events in their own namespace', async () => {
    await setup();
    const c = await controller();
    await createObject(client, vmi('vm1', 'tenant-a', 'blue', mac(1), 'node1'));
    const held = await until('allocation of vm1', () => ipOf('tenant-a', 'vm1'));
    const before = await client.get(RESOURCES.allocations, 'vm1.nic1', 'tenant-a');
    await createObject(client, vmi('thief', 'tenant-a', 'blue', mac(2), 'node1', { annotations: { 'network.vxmesh.io/ip-address': held } }));
    await createObject(client, vmi('intruder', 'tenant-b', 'tenant-a/blue', mac(3), 'node1'));
    // Positive control: a free fixed IP is granted.
    await createObject(client, vmi('fair', 'tenant-a', 'blue', mac(4), 'node1', { annotations: { 'network.vxmesh.io/ip-address': '10.10.0.77' } }));
    expect(await until('fair allocated', () => ipOf('tenant-a', 'fair'))).toBe('10.10.0.77');
    const eventsIn = async (ns: string) => ((await (await fetch(`${api.url}/api/v1/namespaces/${ns}/events`)).json()) as any).items as any[];
    const theft = await until('event on thief', async () => (await eventsIn('tenant-a')).find((e) => e.involvedObject.name === 'thief'));
    expect(theft).toMatchObject({ type: 'Warning', reason: 'InvalidSpec', involvedObject: { kind: 'VirtualMachineInstance', namespace: 'tenant-a' } });
    expect(theft.message).toBe(`VirtualMachineInstance tenant-a/thief: metadata.annotations["network.vxmesh.io/ip-address"] ${held} is already allocated to tenant-a/vm1 nic1 in VxlanNetwork tenant-a/blue`);
    const intrusion = await until('event on intruder', async () => (await eventsIn('tenant-b')).find((e) => e.involvedObject.name === 'intruder'));
    expect(intrusion.message).toBe('VirtualMachineInstance tenant-b/intruder: spec.networks[0].multus.networkName tenant-a/blue: no VxlanNetwork this namespace may use');
    await c.idle();
    const after = await client.get(RESOURCES.allocations, 'vm1.nic1', 'tenant-a');
    expect(after!.metadata.resourceVersion).toBe(before!.metadata.resourceVersion);
    expect(await ipOf('tenant-a', 'thief')).toBeUndefined();
    expect(await ipOf('tenant-b', 'intruder')).toBeUndefined();
    expect((await eventsIn('tenant-a')).filter((e) => e.involvedObject.name === 'thief')).toHaveLength(1); // reported once
  });

  it('marks an invalid VxlanNetwork with a condition and an Event and changes nothing else', async () => {
    await setup();
    const c = await controller();
    await createObject(client, vmi('vm1', 'tenant-a', 'blue', mac(1), 'node1'));
    await until('allocation', () => ipOf('tenant-a', 'vm1'));
    await c.idle();
    await new Promise((r) => setTimeout(r, 100));
    await c.idle();
    const snapshot = async () => {
      const out: Record<string, string> = {};
      for (const res of [RESOURCES.nads, RESOURCES.allocations, RESOURCES.claims, RESOURCES.vxlanNetworks]) {
        for (const o of (await client.list(res)).items) out[`${res.plural}/${o.metadata.namespace ?? ''}/${o.metadata.name}`] = o.metadata.resourceVersion;
      }
      return out;
    };
    const before = await snapshot();
    await createObject(client, { apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanNetwork', metadata: { name: 'green', namespace: 'tenant-a' }, spec: { clusterNetwork: 'overlay', vni: 100, cidr: '10.20.0.0/24' } });
    const green = await until('InvalidSpec condition', async () => {
      const n = await client.get(RESOURCES.vxlanNetworks, 'green', 'tenant-a');
      return n?.status?.conditions?.find((x: any) => x.type === 'InvalidSpec' && x.status === 'True') ? n : undefined;
    });
    const invalid = green.status.conditions.find((x: any) => x.type === 'InvalidSpec');
    expect(invalid.message).toContain('spec.vni 100 is already used by VxlanNetwork tenant-a/blue (VNIs are unique across the cluster');
    expect(green.status.conditions.find((x: any) => x.type === 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    const events = await until('event', async () => {
      const r = await fetch(`${api.url}/api/v1/namespaces/tenant-a/events`);
      const items = ((await r.json()) as any).items as any[];
      return items.length ? items : undefined;
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'Warning', reason: 'InvalidSpec', involvedObject: { kind: 'VxlanNetwork', name: 'green', namespace: 'tenant-a' } });
    await c.idle();
    const after = await snapshot();
    delete after['vxlannetworks/tenant-a/green'];
    expect(after).toEqual(before);
    expect(await client.get(RESOURCES.nads, 'green', 'tenant-a')).toBeUndefined();
  });

  it('reports PoolExhausted when a network runs out of addresses', async () => {
    await setup();
    await createObject(client, { apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanNetwork', metadata: { name: 'tiny', namespace: 'tenant-a' }, spec: { clusterNetwork: 'overlay', vni: 300, cidr: '10.30.0.0/30' } });
    await controller();
    await createObject(client, vmi('vm1', 'tenant-a', 'tiny', mac(1), 'node1'));
    await until('vm1 allocated', () => ipOf('tenant-a', 'vm1'));
    await createObject(client, vmi('vm2', 'tenant-a', 'tiny', mac(2), 'node1'));
    const net = await until('PoolExhausted', async () => {
      const n = await client.get(RESOURCES.vxlanNetworks, 'tiny', 'tenant-a');
      return n?.status?.conditions?.find((x: any) => x.type === 'PoolExhausted' && x.status === 'True') ? n : undefined;
    });
    expect(net.status.conditions.find((x: any) => x.type === 'PoolExhausted').message).toContain('10.30.0.0/30 is exhausted');
    expect(await ipOf('tenant-a', 'vm2')).toBeUndefined();
  });

  it('serves /readyz and Prometheus /metrics: leadership, passes, writes of the last pass', async () => {
    await setup();
    const c = await controller({ leaderElection: false, healthPort: 0 });
    await createObject(client, vmi('vm1', 'tenant-a', 'blue', mac(1), 'node1'));
    await until('an address for vm1', () => ipOf('tenant-a', 'vm1'));
    await c.idle();
    const get = (p: string) => fetch(`http://127.0.0.1:${c.healthPort}${p}`);
    expect((await get('/readyz')).status).toBe(200);
    const text = await (await get('/metrics')).text();
    expect(text).toContain('vxmesh_controller_leader 1');
    expect(Number(/^vxmesh_controller_passes_total (\d+)$/m.exec(text)?.[1])).toBe(c.stats().passes);
    expect(c.stats().passes).toBeGreaterThan(0);
    expect(text).toMatch(/# TYPE vxmesh_controller_last_pass_writes gauge/);
  });

  it('elects one leader through a Lease and fails over when it stops', async () => {
    await setup();
    const a = await controller();
    await until('a leads', () => a.isLeader());
    const b = await controller();
    await new Promise((r) => setTimeout(r, 300));
    expect(b.isLeader()).toBe(false);
    const lease = await client.get(RESOURCES.leases, 'vxmesh-controller', 'vxmesh-system');
    expect(lease!.spec.holderIdentity).toBe('c0');
    await a.stop();
    await until('b leads', () => b.isLeader(), 5000);
    await createObject(client, vmi('vm1', 'tenant-a', 'blue', mac(1), 'node1'));
    await until('allocation by the new leader', () => ipOf('tenant-a', 'vm1'));
  });
});

describe('controller leadership', () => {
  it('steps down when it cannot renew its lease and leads again once the API server is back', async () => {
    await setup();
    const c = await controller({ minBackoffMs: 50, maxBackoffMs: 200 });
    await until('leads', () => c.isLeader());
    await api.stop();
    await until('stepped down', () => !c.isLeader(), 5000);
    await api.start();
    await until('leads again', () => c.isLeader(), 5000);
    await createObject(client, vmi('vm1', 'tenant-a', 'blue', mac(1), 'node1'));
    await until('allocation after recovery', () => ipOf('tenant-a', 'vm1'), 5000);
  });
});

describe('controller IPAM recovery', () => {
  it('resumes an interrupted allocation from its claim and skips addresses claimed by others until they are cleaned up', async () => {
    await setup();
    const claim = (ip: string, vm: string, claimedAt = new Date().toISOString()) => ({
      apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanIPClaim',
      metadata: { name: `tenant-a.blue.${ip}`, annotations: { 'network.vxmesh.io/claimed-at': claimedAt } },
      spec: { network: 'tenant-a/blue', ip, owner: { namespace: 'tenant-a', vm, interface: 'nic1' } },
    });
    // A previous controller claimed .7 for vm1 and died before writing the allocation; .2 is claimed by a VM
    // this controller has not seen (yet).
    await createObject(client, claim('10.10.0.7', 'vm1'));
    await createObject(client, claim('10.10.0.2', 'ghost'));
    await createObject(client, vmi('vm1', 'tenant-a', 'blue', mac(1), 'node1'));
    await createObject(client, vmi('vm2', 'tenant-a', 'blue', mac(2), 'node1'));
    await controller({ claimGraceMs: 1500 });
    expect(await until('vm1 allocated', () => ipOf('tenant-a', 'vm1'))).toBe('10.10.0.7');
    expect(await until('vm2 allocated', () => ipOf('tenant-a', 'vm2'))).toBe('10.10.0.3');
    await until('orphan claim removed after the grace period', async () => !(await client.get(RESOURCES.claims, 'tenant-a.blue.10.10.0.2')), 5000);
    await createObject(client, vmi('vm3', 'tenant-a', 'blue', mac(3), 'node1'));
    expect(await until('vm3 allocated', () => ipOf('tenant-a', 'vm3'))).toBe('10.10.0.2');
  });

  it('removes the NetworkAttachmentDefinition and the allocations of a deleted network', async () => {
    await setup();
    await controller();
    await createObject(client, vmi('vm1', 'tenant-b', 'red', mac(1), 'node1'));
    await until('allocation', () => ipOf('tenant-b', 'vm1'));
    await client.delete(RESOURCES.vxlanNetworks, 'red', 'tenant-b');
    await until('NAD removed', async () => !(await client.get(RESOURCES.nads, 'red', 'tenant-b')));
    await until('allocation removed', async () => !(await ipOf('tenant-b', 'vm1')));
    await until('claims removed', async () => (await client.list(RESOURCES.claims)).items.length === 0);
    expect(await client.get(RESOURCES.nads, 'blue', 'tenant-a')).toBeDefined();
  });
});
