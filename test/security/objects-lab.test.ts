/**
 * Red team, tenant API user, against running agents (file source, both dataplane modes): a tenant's
 * objects that name another tenant's network or another VM's address get nothing, next to the same
 * objects passing when they are legitimate. Unit-level variants of each attack: objects.test.ts.
 */
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addVm } from '../../src/lab/topology.js';
import { run } from '../../src/util/exec.js';
import { sleep, TestLab, waitFor, withVm, type Doc } from '../helpers/lab.js';

const MODES = (process.env.E2E_MODES ?? 'kernel,bpf').split(',').filter(Boolean);
/** A one-shot DHCP exchange that configures nothing: exit 0 = got a lease. */
const probeArgv = ['udhcpc', '-f', '-q', '-n', '-i', 'eth0', '-s', '/bin/true', '-t', '2', '-T', '1'];

const vmiDoc = (name: string, ns: string, network: string, mac: string, node: string): Doc => ({
  apiVersion: 'kubevirt.io/v1', kind: 'VirtualMachineInstance', metadata: { name, namespace: ns },
  spec: { domain: { devices: { interfaces: [{ name: 'nic1', bridge: {}, macAddress: mac }] } }, networks: [{ name: 'nic1', multus: { networkName: network } }] },
  status: { nodeName: node },
});
const allocDoc = (vm: string, ns: string, network: string, ip: string, mac: string): Doc => ({
  apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanIPAllocation', metadata: { name: `${vm}.nic1`, namespace: ns },
  spec: { network, vm, interface: 'nic1', ip, mac },
});

describe.each(MODES)('tenant objects against running agents in %s mode', (mode) => {
  let lab: TestLab;
  let stateFile = '';
  const writeState = (text: string) => run(['sh', '-c', `cat > ${stateFile}.tmp && mv ${stateFile}.tmp ${stateFile}`], { input: text });
  const rejected = (node: number) => readFileSync(`/run/vxmesh/${lab.name}/logs/${lab.node(node)}.log`, 'utf8').split('\n')
    .filter((l) => l.includes('invalid input ignored')).map((l) => String(JSON.parse(l).err));

  beforeAll(async () => {
    lab = new TestLab(mode);
    await lab.up();
    stateFile = `/run/vxmesh/${lab.name}/state/cluster.yaml`;
  });

  afterAll(async () => {
    await lab?.down();
  });

  it("a tenant-b VM plugged into tenant-a's network gets no lease and no traffic; a tenant-a VM plugged the same way does (positive control)", async () => {
    const original = readFileSync(stateFile, 'utf8');
    const node1 = lab.node(1);
    // Objects as a tenant (and a careless address writer) would put them: both VMIs name tenant-a/blue.
    const extra = [
      vmiDoc('intruder', 'tenant-b', 'tenant-a/blue', '02:00:0b:00:01:66', node1), allocDoc('intruder', 'tenant-b', 'tenant-a/blue', '10.10.0.66', '02:00:0b:00:01:66'),
      vmiDoc('legit', 'tenant-a', 'blue', '02:00:0a:00:01:67', node1), allocDoc('legit', 'tenant-a', 'tenant-a/blue', '10.10.0.67', '02:00:0a:00:01:67'),
    ];
    const guests = [['intruder', 'tenant-b', '02:00:0b:00:01:66', '10.10.0.66'], ['legit', 'tenant-a', '02:00:0a:00:01:67', '10.10.0.67']] as const;
    try {
      await writeState(`${original}\n---\n${extra.map((d) => YAML.stringify(d)).join('---\n')}`);
      await waitFor('node1 to refuse the intruder', async () => rejected(1).includes('VirtualMachineInstance tenant-b/intruder: spec.networks[0].multus.networkName tenant-a/blue: no VxlanNetwork this namespace may use'), 5000, 100);
      expect(rejected(1)).toContain('VxlanIPAllocation tenant-b/intruder.nic1: spec.network tenant-a/blue: no VxlanNetwork this namespace may use');
      expect(rejected(1).filter((m) => m.includes('legit'))).toEqual([]);
      await sleep(500); // the pass that programs legit
      // The CNI plugs both ports into vxb100 on node1, as multus would for a NAD that names tenant-a/blue.
      for (const [name, ns, mac] of guests) {
        await addVm({ netns: lab.netns(`x${name}`), nodeNetns: lab.netns(node1), port: `vxm${name.slice(0, 4)}${lab.name}`, bridge: 'vxb100', mac, mtu: 1450, binding: { vm: `${ns}/${name}`, iface: 'nic1' } });
      }
      const lease = async (name: string) => (await run(probeArgv, { netns: lab.netns(`x${name}`), allowFailure: true, timeoutMs: 20_000 })).exitCode === 0;
      expect(await lease('legit')).toBe(true);
      expect(await lease('intruder')).toBe(false);
      // Configured by hand, as a guest ignoring DHCP would: legit reaches vm-a2 on node2.
      for (const [name, , , ip] of guests) await run(['ip', 'addr', 'add', `${ip}/24`, 'dev', 'eth0'], { netns: lab.netns(`x${name}`) });
      const reaches = async (name: string) => (await run(['ping', '-c', '3', '-i', '0.2', '-W', '1', '-q', '10.10.0.3'], { netns: lab.netns(`x${name}`), allowFailure: true })).exitCode === 0;
      expect(await reaches('legit')).toBe(true);
      // The intruder's NIC is no endpoint anywhere: no node forwards to it (and bpf mode admits a port's
      // frames only from a NIC the agent accepted). VMs on its own bridge are a matter of kernel-mode
      // anti-spoofing (issue 18, another branch), not checked here.
      expect(await reaches('intruder')).toBe(false);
    } finally {
      for (const [name] of guests) await run(['ip', 'netns', 'del', lab.netns(`x${name}`)], { allowFailure: true });
      await writeState(original);
    }
  });

  it("a fixed IP another VM holds is refused and the holder keeps answering; a free fixed IP is granted (positive control)", async () => {
    const steal = withVm(lab.docs, 'vm-a3', { name: 'vm-a8', mac: '02:00:0a:00:01:08', node: lab.node(2) });
    steal.at(-1)!.metadata.annotations = { 'network.vxmesh.io/ip-address': '10.10.0.2' }; // vm-a1's
    const refused = await lab.apply(steal);
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toMatch(/VirtualMachineInstance tenant-a\/vm-a8: metadata\.annotations\["network\.vxmesh\.io\/ip-address"\] 10\.10\.0\.2 is already allocated to tenant-a\/vm-a1 nic1/);
    expect(await lab.whoAnswers('vm-a2', '10.10.0.2')).toBe('vm-a1');

    const fair = withVm(lab.docs, 'vm-a3', { name: 'vm-a9', mac: '02:00:0a:00:01:09', node: lab.node(2) });
    fair.at(-1)!.metadata.annotations = { 'network.vxmesh.io/ip-address': '10.10.0.99' };
    const granted = await lab.apply(fair);
    expect(granted.exitCode, granted.stderr).toBe(0);
    await waitFor('vm-a9 to answer at 10.10.0.99', async () => (await lab.whoAnswers('vm-a1', '10.10.0.99')) === 'vm-a9', 20_000, 250);
    expect(await lab.whoAnswers('vm-a2', '10.10.0.2')).toBe('vm-a1');
    expect((await lab.apply(lab.docs)).exitCode).toBe(0);
  });
});
