/**
 * The connectivity matrix: from every VM to every VM (TCP echo on port 7 — the answer names who answered,
 * which tells overlapping tenants apart), to its gateway (ping) and to the external host (TCP 8080 — the
 * answer is the source address the external host saw). Expected values come from the lab's own model.
 */
import { run } from '../util/exec.js';
import { cidrContains, parseCidr } from '../util/ipv4.js';
import type { LabState, LabVmState } from './state.js';
import { table } from './table.js';

export const NONE = '-';

export interface Probe {
  from: string;
  /** VM name, "gateway" or "external". */
  to: string;
  target: string;
  expected: string;
  observed: string;
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

/** Pure: the plan of every probe with its expected outcome. */
export function plannedProbes(s: LabState): Omit<Probe, 'observed'>[] {
  const out: Omit<Probe, 'observed'>[] = [];
  for (const src of s.vms) {
    const nic = src.interfaces[0];
    if (!nic) continue;
    for (const dst of s.vms) {
      const ip = dst.interfaces[0]?.ip;
      if (!ip || dst === src) continue;
      out.push({ from: src.name, to: dst.name, target: `${ip}:7`, expected: expectedResponder(s, src, ip) });
    }
    out.push({ from: src.name, to: 'gateway', target: nic.gateway, expected: 'reply' });
    if (s.external) {
      const node = s.nodes.find((n) => n.name === src.node);
      out.push({ from: src.name, to: 'external', target: `${s.external.ip}:${s.external.port}`, expected: nic.natOutgoing && node ? node.underlayIP : NONE });
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
  const planned = plannedProbes(s);
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
  return table(['from \\ to', ...cols], rows);
}

export const mismatches = (probes: Probe[]) => probes.filter((p) => p.observed !== p.expected);
