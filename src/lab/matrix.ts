/**
 * The connectivity matrix: from every VM to every VM (TCP echo on port 7 — the answer names who answered,
 * which tells overlapping tenants apart), to its gateway (ping) and to the external host (TCP 8080 — the
 * answer is the source address the external host saw). Expected values come from the lab's own model and
 * the traffic policies in force (intent/verdict.ts, the verdict both dataplanes enforce): a probe a policy
 * denies is expected to get no answer, and says which policy denies it.
 */
import { computeIntent } from '../intent/compute.js';
import type { NetworkPolicyIntent } from '../intent/policy-types.js';
import { describeDenial, policyVerdict, type Probe4 } from '../intent/verdict.js';
import type { Snapshot } from '../model/schema.js';
import { run } from '../util/exec.js';
import { cidrContains, parseCidr } from '../util/ipv4.js';
import type { LabNicState, LabState, LabVmState } from './state.js';
import { table } from './table.js';
import { labCluster } from './cluster.js';

export const NONE = '-';

export interface Probe {
  from: string;
  /** VM name, "gateway" or "external". */
  to: string;
  target: string;
  expected: string;
  observed: string;
  /** Why no answer is expected: the policy that denies it. */
  deniedBy?: string;
}

/** Pure: each network's compiled policies (one node's intent holds every endpoint of its cluster network). */
export function labPolicies(s: LabState, snapshot: Snapshot): Map<string, NetworkPolicyIntent> {
  const out = new Map<string, NetworkPolicyIntent>();
  const node = s.nodes[0];
  if (!node) return out;
  const intent = computeIntent(snapshot, node.name, { vteps: { [s.clusterNetwork]: node.underlayIP } });
  for (const n of intent.clusterNetworks.flatMap((c) => c.networks)) if (n.policy) out.set(n.key, n.policy);
  return out;
}

/** Pure: who should answer a TCP connection from `src` to `ip`. */
export function expectedResponder(s: LabState, src: LabVmState, ip: string): string {
  for (const nic of src.interfaces) {
    if (!cidrContains(parseCidr(`${nic.ip}/${nic.prefixLen}`), ip)) continue;
    const owner = s.vms.find((v) => v.interfaces.some((n) => n.network === nic.network && n.ip === ip));
    if (owner) return owner.name;
  }
  return NONE;
}

/** Pure: the plan of every probe with its expected outcome (`policies`: labPolicies; none: all open). */
export function plannedProbes(s: LabState, policies = new Map<string, NetworkPolicyIntent>()): Omit<Probe, 'observed'>[] {
  const out: Omit<Probe, 'observed'>[] = [];
  /** The expectation `answer`, unless a policy of nic's network denies the first packet to `dst`. */
  const unlessDenied = (nic: LabNicState, dst: { mac?: string; ip: string }, probe: Probe4, answer: string) => {
    if (answer === NONE) return { expected: NONE };
    const v = policyVerdict(policies.get(nic.network), nic, dst, probe);
    return v.allowed ? { expected: answer } : { expected: NONE, deniedBy: describeDenial(v) };
  };
  for (const src of s.vms) {
    const nic = src.interfaces[0];
    if (!nic) continue;
    for (const dst of s.vms) {
      const ip = dst.interfaces[0]?.ip;
      if (!ip || dst === src) continue;
      const responder = expectedResponder(s, src, ip);
      const peer = s.vms.find((v) => v.name === responder)?.interfaces.find((n) => n.network === nic.network && n.ip === ip);
      // Its own address (a tenant with the same CIDR has a VM there): answered inside the VM, no policy applies.
      const verdict = responder === src.name ? { expected: responder } : unlessDenied(nic, { mac: peer?.mac, ip }, { protocol: 'tcp', port: 7 }, responder);
      out.push({ from: src.name, to: dst.name, target: `${ip}:7`, ...verdict });
    }
    out.push({ from: src.name, to: 'gateway', target: nic.gateway, ...unlessDenied(nic, { ip: nic.gateway }, { protocol: 'icmp' }, 'reply') });
    if (s.external) {
      const node = s.nodes.find((n) => n.name === src.node);
      const answer = nic.natOutgoing && node ? node.underlayIP : NONE;
      out.push({ from: src.name, to: 'external', target: `${s.external.ip}:${s.external.port}`, ...unlessDenied(nic, { ip: s.external.ip }, { protocol: 'tcp', port: s.external.port }, answer) });
    }
  }
  return out;
}

export async function tcpAsk(netns: string, host: string, port: number, timeoutS = 1): Promise<string> {
  const r = await run(['socat', '-T', String(timeoutS + 1), 'STDIO', `TCP:${host}:${port},connect-timeout=${timeoutS}`], {
    netns, input: '', allowFailure: true, timeoutMs: (timeoutS + 3) * 1000,
  });
  return r.exitCode === 0 && r.stdout.trim() ? r.stdout.trim() : NONE;
}

export async function pingOnce(netns: string, ip: string, timeoutS = 1): Promise<boolean> {
  const r = await run(['ping', '-c', '1', '-W', String(timeoutS), '-q', ip], { netns, allowFailure: true, timeoutMs: (timeoutS + 3) * 1000 });
  return r.exitCode === 0;
}

async function observe(s: LabState, p: Omit<Probe, 'observed'>): Promise<string> {
  const src = s.vms.find((v) => v.name === p.from)!;
  if (p.to === 'gateway') return (await pingOnce(src.netns, p.target)) ? 'reply' : NONE;
  const [host, port] = p.target.split(':');
  return tcpAsk(src.netns, host!, Number(port));
}

export async function runMatrix(s: LabState, parallel = 8): Promise<Probe[]> {
  const planned = plannedProbes(s, labPolicies(s, await labCluster(s).snapshot()));
  const out: Probe[] = new Array(planned.length);
  let next = 0;
  async function worker() {
    while (next < planned.length) {
      const i = next++;
      out[i] = { ...planned[i]!, observed: await observe(s, planned[i]!) };
    }
  }
  await Promise.all(Array.from({ length: parallel }, worker));
  return out;
}

/** Rows = source VMs; columns = destination VMs, gateway, external. A mismatch shows `✗ observed (want expected)`. */
export function formatMatrix(s: LabState, probes: Probe[]): string {
  const cols = [...s.vms.map((v) => v.name), 'gateway', ...(s.external ? ['external'] : [])];
  const rows = s.vms.map((src) => [
    src.name,
    ...cols.map((c) => {
      if (c === src.name) return '·';
      const p = probes.find((x) => x.from === src.name && x.to === c);
      if (!p) return '';
      const shown = p.observed === NONE ? 'no answer' : p.observed;
      return p.observed === p.expected ? shown : `✗ ${shown} (want ${p.expected === NONE ? 'no answer' : p.expected})`;
    }),
  ]);
  const denied = probes.filter((p) => p.deniedBy);
  const notes = denied.map((p) => `  ${p.from} -> ${p.to}: ${p.deniedBy}`);
  return [table(['from \\ to', ...cols], rows), ...(notes.length ? ['', `Expected no answer (${denied.length} denied by policy):`, ...notes] : [])].join('\n');
}

export const mismatches = (probes: Probe[]) => probes.filter((p) => p.observed !== p.expected);
