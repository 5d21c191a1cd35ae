/**
 * What an operator checks on a node's agent, against a real one: a bpf-mode agent (Kubernetes source on a
 * real kube-apiserver, as its ServiceAccount with a token bound to a pod on its node) programming a real
 * node namespace, with its health server on 127.0.0.1. /readyz turns 200 after the first reconcile,
 * /metrics shows the entries it programmed, the BPF packet counters of a VNI moving with real pings
 * between two VMs, and an invalid object counted without making the node unready.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveAgentHealth, startAgent, type RunningAgent } from '../../src/agent/index.js';
import { names } from '../../src/dataplane/names.js';
import { addHost, addVm, createUnderlay, destroyNamespaces, nsName } from '../../src/lab/topology.js';
import type { HealthServer } from '../../src/metrics/index.js';
import { VXMESH_API } from '../../src/model/schema.js';
import { createKubernetesSource } from '../../src/sources/kubernetes/index.js';
import { RESOURCES } from '../../src/k8s/resources.js';
import { mountBpffs, unmountBpffs } from '../helpers/bpffs.js';
import { ping, sh } from '../helpers/kernel-lab.js';
import { applyFixture, createObject, quietLog, startKube, until, vmi, type Kube } from './helpers.js';

interface Sample { name: string; labels: Record<string, string>; value: number }

/** Parses the text exposition format into samples (and checks every line is well-formed on the way: scrapers would). */
function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.trim().split('\n')) {
    if (line === '') continue; // allowed between families
    if (line.startsWith('#')) {
      expect(line).toMatch(/^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    expect(m, `malformed sample line: ${line}`).not.toBeNull();
    const labels: Record<string, string> = {};
    for (const [, k, v] of m![2]?.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g) ?? []) labels[k!] = v!;
    out.push({ name: m![1]!, labels, value: Number(m![3]) });
  }
  return out;
}

const matching = (samples: Sample[], name: string, want: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v));
const sum = (samples: Sample[], name: string, want: Record<string, string> = {}) => matching(samples, name, want).reduce((a, s) => a + s.value, 0);

describe('agent health and metrics endpoints (bpf agent on a real node)', () => {
  const id = randomBytes(3).toString('hex');
  const prefix = `vxm-h${id}`;
  const node = `h${id}-n1`;
  const nodeNs = nsName(prefix, 'n1');
  let kube: Kube | undefined;
  let client: Kube['client'];
  let bpffs: string | undefined;
  let agent: RunningAgent | undefined;
  let server: HealthServer | undefined;
  const vms = [
    { name: 'vm1', mac: '02:00:00:0b:00:01', ip: '10.10.0.11' },
    { name: 'vm2', mac: '02:00:00:0b:00:02', ip: '10.10.0.12' },
  ];

  const get = (path: string) => fetch(`http://127.0.0.1:${server!.port}${path}`);
  const scrape = async () => {
    const r = await get('/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('version=0.0.4');
    const text = await r.text();
    return { text, samples: parseMetrics(text) };
  };

  beforeAll(async () => {
    if (process.getuid?.() !== 0) throw new Error('this test needs root (CAP_NET_ADMIN) to create namespaces and mount bpffs');
    kube = await startKube();
    client = kube.client;
    await kube.applyDeploy();
    await applyFixture(client, new URL('../fixtures/k8s-base.yaml', import.meta.url).pathname);
    await createObject(client, { apiVersion: 'v1', kind: 'Node', metadata: { name: node } });
    // Addresses written by hand (the controller's IPAM is tested elsewhere).
    for (const vm of vms) {
      await createObject(client, vmi(vm.name, 'tenant-a', 'blue', vm.mac, node));
      await createObject(client, {
        apiVersion: VXMESH_API, kind: 'VxlanIPAllocation', metadata: { name: `${vm.name}.nic1`, namespace: 'tenant-a' },
        spec: { network: 'tenant-a/blue', vm: vm.name, interface: 'nic1', ip: vm.ip, mac: vm.mac },
      });
    }
    await createUnderlay(prefix);
    await addHost(prefix, 'n1', '198.18.0.11/24');
    bpffs = await mountBpffs();
    const source = createKubernetesSource({ kubeconfigYaml: await kube.agentKubeconfig(node), node, log: quietLog });
    agent = await startAgent({ node, source, mode: 'bpf', bpffs, netns: nodeNs, log: quietLog, resyncMs: 500 });
    server = await serveAgentHealth(agent, { port: 0, host: '127.0.0.1' });
  });

  afterAll(async () => {
    await server?.close().catch(() => {});
    await agent?.stop().catch(() => {});
    await kube?.stop().catch(() => {});
    await destroyNamespaces([prefix, `vxmr-h${id}`]);
    await unmountBpffs(bpffs);
  });

  it('answers /healthz at once and /readyz 200 once the first reconcile is done', async () => {
    expect((await get('/healthz')).status).toBe(200);
    await until('/readyz 200', async () => (await get('/readyz')).status === 200, 15_000);
    const { text, samples } = await scrape();
    expect(text).toContain('# TYPE vxmesh_reconcile_duration_seconds histogram');
    expect(sum(samples, 'vxmesh_agent_ready')).toBe(1);
    expect(sum(samples, 'vxmesh_reconcile_duration_seconds_count', { result: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(sum(samples, 'vxmesh_reconcile_errors_total')).toBe(0);
    expect(sum(samples, 'vxmesh_invalid_objects')).toBe(0);
  });

  it('reports the BPF map entries it programmed, VM ports included once they are plugged', async () => {
    for (const vm of vms) {
      await addVm({ netns: nsName(prefix, vm.name), nodeNetns: nodeNs, port: `vxmh${vm.name}`, bridge: names.bridge(100), mac: vm.mac, address: `${vm.ip}/24`, gateway: '10.10.0.1', mtu: 1450, binding: { vm: `tenant-a/${vm.name}`, iface: 'nic1' } });
    }
    // Two networks (blue, red); only blue has VMs here, so only blue has a router and its gateway port,
    // plus the two VM ports of blue.
    const { samples } = await until('both VM ports programmed', async () => {
      const s = await scrape();
      return sum(s.samples, 'vxmesh_entries_programmed', { kind: 'vxm_ports' }) === 3 && s;
    }, 10_000);
    expect(sum(samples, 'vxmesh_entries_programmed', { kind: 'vxm_networks' })).toBe(2);
    expect(sum(samples, 'vxmesh_entries_programmed', { kind: 'vxm_endpoints' })).toBe(2);
    // ARP answers: each network's gateway and each VM.
    expect(sum(samples, 'vxmesh_entries_programmed', { kind: 'vxm_arp' })).toBe(4);
    expect(matching(samples, 'vxmesh_entries_programmed', { kind: 'vxm_config' })).toEqual([]);
  });

  it('counts the packets of the VNI in vxmesh_packets_total and vxmesh_bytes_total as two VMs ping each other', async () => {
    await until('vm1 reaches vm2', () => ping(nsName(prefix, 'vm1'), vms[1]!.ip, 1), 15_000);
    const before = (await scrape()).samples;
    const r = await sh(nsName(prefix, 'vm1'), ['ping', '-c', '5', '-i', '0.1', '-W', '1', vms[1]!.ip]);
    expect(r.exitCode).toBe(0);
    const { text, samples: after } = await scrape();
    expect(text).toContain('# TYPE vxmesh_packets_total counter');
    expect(text).toContain('# TYPE vxmesh_bytes_total counter');
    // Each echo crosses the programs twice (request from vm1's port, reply from vm2's), both switched locally.
    const local = { vni: '100', verdict: 'forwarded-local' };
    expect(sum(after, 'vxmesh_packets_total', local) - sum(before, 'vxmesh_packets_total', local)).toBeGreaterThanOrEqual(10);
    expect(sum(after, 'vxmesh_bytes_total', local) - sum(before, 'vxmesh_bytes_total', local)).toBeGreaterThanOrEqual(10 * 84);
    expect(matching(after, 'vxmesh_packets_total', { vni: '200', verdict: 'forwarded-local' }).every((s) => s.value === 0)).toBe(true);
  });

  it('counts an invalid object in vxmesh_invalid_objects and stays ready', async () => {
    // red turns invalid: an MTU its uplink cannot carry (1500 - 50 at most), which only vxmesh's validation
    // finds (the API server would refuse a VNI change: CEL transition rule).
    const red = (await client.get(RESOURCES.vxlanNetworks, 'red', 'tenant-b'))!;
    await client.replace(RESOURCES.vxlanNetworks, { ...red, spec: { ...red.spec, mtu: 1480 } });
    await until('vxmesh_invalid_objects 1', async () => sum((await scrape()).samples, 'vxmesh_invalid_objects') === 1, 10_000);
    // Let a resync pass run with the invalid object present: the last good version keeps the node converged.
    await new Promise((res) => setTimeout(res, 1200));
    expect((await get('/readyz')).status).toBe(200);
    const { samples } = await scrape();
    expect(sum(samples, 'vxmesh_agent_ready')).toBe(1);
    expect(sum(samples, 'vxmesh_reconcile_errors_total')).toBe(0);
    expect(sum(samples, 'vxmesh_entries_programmed', { kind: 'vxm_networks' })).toBe(2);
  });
});
