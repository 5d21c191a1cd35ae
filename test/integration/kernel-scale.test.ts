import { describe, it, expect, afterEach } from 'vitest';
import { Lab } from '../helpers/kernel-lab.js';
import { createKernelDataplane } from '../../src/dataplane/kernel/index.js';
import { run } from '../../src/util/exec.js';

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.destroy();
  lab = undefined;
});

describe('kernel dataplane at scale', () => {
  it('programs 2000 remote VMs in a few batched processes and converges to zero changes', async () => {
    lab = new Lab();
    const net = { key: 't/big', vni: 4000, cidr: '10.40.0.0/16', gateway: '10.40.0.1', natOutgoing: true };
    const vms = Array.from({ length: 2000 }, (_, i) => ({
      name: `v${i}`, net: net.key, node: i % 2 ? 'n2' : 'n3', ip: `10.40.${(i >> 8) + 1}.${i & 255}`,
      mac: `52:54:01:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
    }));
    await lab.build([net], []);
    lab.vms = vms; // placement only: the VMs live on n2/n3 as far as n1 is concerned
    const dp = createKernelDataplane({ node: lab.nodeName('n1'), netns: lab.nodeNs('n1'), log: lab.log });
    const t0 = Date.now();
    const r1 = await dp.reconcile(lab.intent('n1'));
    const first = Date.now() - t0;
    expect(r1.errors).toEqual([]);
    expect(r1.changes).toBeGreaterThan(6000);
    const r2 = await dp.reconcile(lab.intent('n1'));
    expect(r2.changes).toBe(0);
    const neigh = await run(['ip', '-4', 'neigh', 'show', 'dev', 'vxl4000', 'nud', 'permanent'], { netns: lab.nodeNs('n1') });
    expect(neigh.stdout.trim().split('\n')).toHaveLength(2000);
    expect(first).toBeLessThan(15_000);
    expect(r2.durationMs).toBeLessThan(5_000);
  });
});
