/**
 * Traffic generators, each run between two namespaces the bench created: iperf3 TCP (-J), iperf3 UDP with
 * 64-byte payloads, sockperf UDP ping-pong. Servers are one-shot and wrapped in `timeout`, so nothing
 * outlives a measurement; namespace teardown kills any straggler.
 */
import { readFileSync } from 'node:fs';
import { run } from '../util/exec.js';
import { withCpu } from './cpu.js';
import type { Flow } from './topo.js';

/** Ends the processes named `comm` that run in `netns` (a namespace the bench created), by pid. */
export async function killInNetns(netns: string, comm: string): Promise<void> {
  const r = await run(['ip', 'netns', 'pids', netns], { allowFailure: true });
  for (const pid of r.stdout.split(/\s+/).filter(Boolean).map(Number)) {
    let name = '';
    try {
      name = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (name === comm) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitListening(netns: string, port: number, proto: 'tcp' | 'udp'): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = await run(['ss', proto === 'tcp' ? '-ltnH' : '-lunH', `sport = :${port}`], { netns, allowFailure: true });
    if (r.stdout.trim()) return;
    await sleep(30);
  }
  throw new Error(`server on ${netns}:${port}/${proto} did not start`);
}

export interface TcpResult {
  gbps: number;
  bytes: number;
  cpuSecPerGB: number;
}

function parseJson(out: string, what: string): any {
  try {
    return JSON.parse(out);
  } catch {
    throw new Error(`${what}: unparseable iperf3 output: ${out.slice(0, 300)}`);
  }
}

/** iperf3 TCP from flow.from to flow.ip, `streams` parallel streams for `seconds`. */
export async function iperfTcp(flow: Flow, streams: number, seconds: number, port = 5201): Promise<TcpResult> {
  const server = run(['timeout', String(seconds + 20), 'iperf3', '-s', '-1', '-p', String(port)], { netns: flow.to, allowFailure: true, timeoutMs: (seconds + 25) * 1000 });
  try {
    await waitListening(flow.to, port, 'tcp');
    const { result, cpuSeconds } = await withCpu(() =>
      run(['iperf3', '-c', flow.ip, '-p', String(port), '-t', String(seconds), '-P', String(streams), '-J'], { netns: flow.from, allowFailure: true, timeoutMs: (seconds + 15) * 1000 }));
    const j = parseJson(result.stdout, `iperf3 tcp ${flow.from} -> ${flow.ip}`);
    if (j.error) throw new Error(`iperf3 tcp ${flow.from} -> ${flow.ip}: ${j.error}`);
    const recv = j.end?.sum_received;
    const bytes = Number(recv?.bytes);
    return { gbps: Number(recv?.bits_per_second) / 1e9, bytes, cpuSecPerGB: cpuSeconds / (bytes / 1e9) };
  } finally {
    await server;
  }
}

export interface UdpResult {
  pps: number;
  lossPct: number;
}

/** iperf3 UDP, 64-byte payloads, unlimited rate: packets per second that arrive. */
export async function iperfUdp64(flow: Flow, seconds: number, port = 5202): Promise<UdpResult> {
  const server = run(['timeout', String(seconds + 20), 'iperf3', '-s', '-1', '-p', String(port)], { netns: flow.to, allowFailure: true, timeoutMs: (seconds + 25) * 1000 });
  try {
    await waitListening(flow.to, port, 'tcp');
    const r = await run(['iperf3', '-c', flow.ip, '-p', String(port), '-u', '-b', '0', '-l', '64', '-t', String(seconds), '-J'], { netns: flow.from, allowFailure: true, timeoutMs: (seconds + 15) * 1000 });
    const j = parseJson(r.stdout, `iperf3 udp ${flow.from} -> ${flow.ip}`);
    if (j.error) throw new Error(`iperf3 udp ${flow.from} -> ${flow.ip}: ${j.error}`);
    const s = j.end?.sum_received ?? j.end?.sum;
    const packets = Number(s?.packets);
    const lost = Number(s?.lost_packets ?? 0);
    const secs = Number(s?.seconds ?? seconds);
    return { pps: (packets - lost) / secs, lossPct: packets ? (100 * lost) / packets : NaN };
  } finally {
    await server;
  }
}

export interface RttResult {
  p50us: number;
  p99us: number;
}

/** Parses sockperf's percentile lines. */
export function parseSockperf(out: string): RttResult {
  const pct = (p: string) => {
    const m = new RegExp(`percentile ${p.replace('.', '\\.')} =\\s*([\\d.]+)`).exec(out);
    if (!m) throw new Error(`sockperf output without percentile ${p}: ${out.slice(-400)}`);
    return Number(m[1]);
  };
  return { p50us: pct('50.000'), p99us: pct('99.000') };
}

/** Transactions per second of one request/response exchange at a time (sockperf's [Valid Duration] line). */
export function parseSockperfRate(out: string): number {
  const m = /\[Valid Duration\] RunTime=([\d.]+) sec; SentMessages=\d+; ReceivedMessages=(\d+)/.exec(out);
  if (!m || Number(m[1]) <= 0) throw new Error(`sockperf output without a valid-duration line: ${out.slice(-400)}`);
  return Number(m[2]) / Number(m[1]);
}

/**
 * TCP request/response (netperf's TCP_RR, which Debian 12 does not ship): sockperf ping-pong over one TCP
 * connection, one 64-byte message outstanding; transactions per second.
 */
export async function sockperfTcpRr(flow: Flow, seconds: number, port = 11112): Promise<number> {
  const server = run(['timeout', String(seconds + 10), 'sockperf', 'sr', '--tcp', '-i', flow.ip, '-p', String(port)], { netns: flow.to, allowFailure: true, timeoutMs: (seconds + 15) * 1000 });
  try {
    await waitListening(flow.to, port, 'tcp');
    const r = await run(['sockperf', 'pp', '--tcp', '-i', flow.ip, '-p', String(port), '-t', String(seconds + 0.5), '-m', '64'], { netns: flow.from, allowFailure: true, timeoutMs: (seconds + 15) * 1000 });
    return parseSockperfRate(r.stdout + r.stderr);
  } finally {
    await killInNetns(flow.to, 'sockperf');
    await server;
  }
}

/** sockperf UDP ping-pong, full round-trip times. */
export async function sockperfRtt(flow: Flow, seconds: number, port = 11111): Promise<RttResult> {
  const server = run(['timeout', String(seconds + 10), 'sockperf', 'sr', '-i', flow.ip, '-p', String(port)], { netns: flow.to, allowFailure: true, timeoutMs: (seconds + 15) * 1000 });
  try {
    await waitListening(flow.to, port, 'udp');
    const r = await run(['sockperf', 'pp', '-i', flow.ip, '-p', String(port), '-t', String(seconds + 0.5), '--full-rtt'], { netns: flow.from, allowFailure: true, timeoutMs: (seconds + 15) * 1000 });
    return parseSockperf(r.stdout + r.stderr);
  } finally {
    await killInNetns(flow.to, 'sockperf');
    await server;
  }
}
