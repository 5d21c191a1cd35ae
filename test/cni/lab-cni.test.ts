/**
 * The demo lab's VMs are plugged by a real CNI invocation of their NAD (src/lab/cni.ts → build/out/cni/vxmesh-cni, the Go plugin),
 * and traffic between them flows through the running agents: each node-side port is the plugin's
 * (`vxmc…`, bound to the VMI's KubeVirt pod interface, overlay MTU), each guest NIC has the VMI's MAC
 * and the overlay MTU; VMs on different nodes reach each other, and once the plugin's DEL has removed a
 * VM's attachment that VM is unreachable (negative control).
 * Run under the machine-wide lock: flock /tmp/vxm-netns.lock npx vitest run test/cni/lab-cni.test.ts
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/util/exec.js';
import { readLabState, type LabState } from '../../src/lab/state.js';
import { attachmentOf, labCniPath } from '../../src/lab/cni.js';
import { delNetwork, pluginsOf } from '../../src/cni/invoke.js';
import { kubevirtPodIfname } from '../../src/dataplane/port-binding.js';
import { TestLab } from '../helpers/lab.js';

const MODE = process.env.E2E_MODES?.split(',')[0] ?? 'kernel';

describe(`the demo lab plugs its VMs with vxmesh-cni (${MODE} mode)`, () => {
  let lab: TestLab;
  let state: LabState;

  beforeAll(async () => {
    lab = new TestLab(MODE);
    await lab.up();
    state = (await readLabState(lab.name))!;
  });

  afterAll(async () => {
    await lab?.down();
  });

  it("every VM NIC was plugged by the NAD's plugin: its port, binding, MTU and MAC", async () => {
    expect(state.vms).toHaveLength(6);
    for (const vm of state.vms) {
      const nic = vm.interfaces[0]!;
      const cached = vm.cni?.find((c) => c.nic === nic.name);
      expect(pluginsOf(cached!.config).plugins[0]).toMatchObject({ type: 'vxmesh-cni', vni: nic.vni, mtu: 1450 });
      const node = state.nodes.find((n) => n.name === vm.node)!.netns;
      const port = JSON.parse((await run(['ip', '-j', '-d', 'link', 'show', 'dev', nic.port], { netns: node })).stdout)[0];
      expect(nic.port).toMatch(/^vxmc[0-9a-f]{8}$/);
      expect(port).toMatchObject({ master: `vxb${nic.vni}`, mtu: 1450, ifalias: `vxmesh/${vm.namespace}/${vm.name}/${kubevirtPodIfname(nic.name)}` });
      const guest = JSON.parse((await run(['ip', '-j', 'link', 'show', 'dev', nic.ifname], { netns: vm.netns })).stdout)[0];
      expect(guest).toMatchObject({ address: nic.mac, mtu: 1450 });
    }
  });

  it('carries traffic between plugged VMs through the agents; a VM whose attachment the plugin deleted is cut off', async () => {
    expect(await lab.ping('vm-a1', '10.10.0.3')).toBe(true); // a1 (node1) -> a2 (node2)
    expect(await lab.whoAnswers('vm-a1', '10.10.0.3')).toBe('vm-a2');
    expect(await lab.whoAnswers('vm-a1', '10.10.0.4')).toBe('vm-a3'); // same node

    const a2 = state.vms.find((v) => v.name === 'vm-a2')!;
    const nic = a2.interfaces[0]!;
    const cached = a2.cni!.find((c) => c.nic === nic.name)!;
    const node = state.nodes.find((n) => n.name === a2.node)!.netns;
    await delNetwork(cached.config, attachmentOf(a2, nic), cached.result, { cniPath: labCniPath(state.repo), hostNetns: node });
    expect((await run(['ip', 'link', 'show', 'dev', nic.port], { netns: node, allowFailure: true })).exitCode).not.toBe(0);
    expect(await lab.ping('vm-a1', '10.10.0.3')).toBe(false);
    expect(await lab.whoAnswers('vm-a1', '10.10.0.4')).toBe('vm-a3'); // the others still talk
  });
});
