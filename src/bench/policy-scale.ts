/**
 * Policy scale benchmark (issue 8): N policy rules over M VMs, compiled and applied by both dataplanes.
 *   node dist/bench/policy-scale.js [--vms 500] [--rules 1000] [--modes kernel,bpf]
 * The VMs are spread over 50 apps (label app=appK); every policy selects one app and has 4 ingress rules
 * (a podSelector peer on one TCP port range, an ipBlock with except, a namespace-wide UDP range, a
 * second app on all ports), so rules/4 policies. Reports: compile time (pure: snapshot -> policy intent),
 * then per mode the first reconcile (endpoints + policies), a reconcile after one policy changed, and
 * what was programmed (groups, nft set elements / LPM entries). Namespaces `vxm-b<id>p-…`, removed at the end.
 */
import { policyTableSpec } from '../dataplane/kernel/policy.js';
import { renderPolicyTable } from '../dataplane/kernel/policy-plan.js';
import { policyTables } from '../dataplane/bpf/policy.js';
import type { DataplaneMode } from '../dataplane/dataplane.js';
import { networkPolicy } from '../intent/policy.js';
import type { NodeIntent } from '../intent/types.js';
import { emptySnapshot, type MultiNetworkPolicy, type Snapshot, type VirtualMachineInstance } from '../model/schema.js';
import { scaleEndpoints, scaleIntent } from './cp-worker.js';
import { withBenchNode } from './node-fixture.js';

const APPS = 50;

export function policySnapshot(vms: number, rules: number, variant = 0): Snapshot {
  const s = emptySnapshot();
  for (let i = 0; i < vms; i++) {
    s.vmis.push({ metadata: { name: `vm${i}`, namespace: 'bench', labels: { app: `app${i % APPS}` } } } as unknown as VirtualMachineInstance);
  }
  for (let p = 0; p < Math.ceil(rules / 4); p++) {
    const app = (k: number) => ({ matchLabels: { app: `app${k % APPS}` } });
    const port = 1000 + ((p * 7 + variant) % 50000);
    s.policies.push({
      apiVersion: 'k8s.cni.cncf.io/v1beta1', kind: 'MultiNetworkPolicy',
      metadata: { name: `p${p}`, namespace: 'bench', annotations: { 'k8s.v1.cni.cncf.io/policy-for': 'bench/scale' } },
      spec: {
        podSelector: app(p),
        policyTypes: ['Ingress'],
        ingress: [
          { from: [{ podSelector: app(p + 1) }], ports: [{ protocol: 'TCP', port, endPort: port + 10 }] },
          { from: [{ ipBlock: { cidr: `172.${16 + (p % 16)}.0.0/16`, except: [`172.${16 + (p % 16)}.${p % 256}.0/24`] } }] },
          { from: [{ namespaceSelector: {} }], ports: [{ protocol: 'UDP', port: 5000 + (p % 100), endPort: 5100 + (p % 100) }] },
          { from: [{ podSelector: app(p + 2) }] },
        ],
      },
    } as MultiNetworkPolicy);
  }
  return s;
}

export function policyIntent(node: string, vms: number, rules: number, variant = 0): { intent: NodeIntent; compileMs: number } {
  const intent = scaleIntent(node, scaleEndpoints(vms, node));
  const net = intent.clusterNetworks[0]!.networks[0]!;
  const t0 = performance.now();
  net.policy = networkPolicy(policySnapshot(vms, rules, variant), net, 1);
  return { intent, compileMs: performance.now() - t0 };
}

interface ModeResult { mode: string; programMs: number; policyChangeMs: number; changes: number; errors: string[] }

async function measure(mode: DataplaneMode, vms: number, rules: number, id: string): Promise<ModeResult> {
  return withBenchNode(mode, id, 'p', async ({ node, dp }) => {
    const t0 = performance.now();
    const r1 = await dp.reconcile(policyIntent(node, vms, rules).intent);
    const programMs = performance.now() - t0;
    const t1 = performance.now();
    const r2 = await dp.reconcile(policyIntent(node, vms, rules, 1).intent); // every policy's port range moved by one
    const policyChangeMs = performance.now() - t1;
    return { mode, programMs, policyChangeMs, changes: r1.changes, errors: [...r1.errors, ...r2.errors].map((e) => e.message).slice(0, 3) };
  });
}

async function main(): Promise<void> {
  const arg = (name: string, d: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1]! : d);
  const vms = Number(arg('--vms', '500'));
  const rules = Number(arg('--rules', '1000'));
  const modes = arg('--modes', 'kernel,bpf').split(',') as DataplaneMode[];
  const id = Math.random().toString(36).slice(2, 6);
  const { intent, compileMs } = policyIntent('n', vms, rules);
  const pol = intent.clusterNetworks[0]!.networks[0]!.policy!;
  const nftLines = renderPolicyTable(policyTableSpec(intent, [])!).join('\n');
  const lpm = policyTables(intent, []).tables.vxm_pol_rules.size;
  console.log(`${rules} rules (${Math.ceil(rules / 4)} policies) over ${vms} VMs: compiled in ${compileMs.toFixed(0)} ms -> ${pol.endpoints.length} selected endpoints, ${pol.groups.length} groups, nft script ${(nftLines.length / 1024).toFixed(0)} KiB, ${lpm} LPM entries`);
  const out: ModeResult[] = [];
  for (const mode of modes) {
    const r = await measure(mode, vms, rules, id);
    out.push(r);
    console.log(`${mode}: first reconcile (endpoints + policies) ${r.programMs.toFixed(0)} ms, after every policy changed ${r.policyChangeMs.toFixed(0)} ms${r.errors.length ? `; errors: ${r.errors.join('; ')}` : ''}`);
  }
  console.log(JSON.stringify({ vms, rules, compileMs, groups: pol.groups.length, lpmEntries: lpm, modes: out }));
}

if (process.argv[1]?.endsWith('policy-scale.js')) await main();
