/**
 * ARP: how long resolving the remote peer takes (arping's reply time after flushing the neighbour cache)
 * and how many ARP frames the underlay carries per resolution, counted by tcpdump on the node's uplink:
 * plain ARP for the underlay baseline, ARP inside VxLAN (inner ethertype 0x0806) for the overlay modes.
 */
import { run } from '../util/exec.js';
import { killInNetns } from './traffic.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface ArpResult {
  /** Median over the resolutions of this sample. */
  resolveMs: number;
  framesPerResolution: number;
}

/** arping prints "Unicast reply from IP [MAC]  0.123ms". */
export function parseArping(out: string): number | null {
  const m = /reply from [\d.]+ \[[0-9A-Fa-f:]+\]\s+([\d.]+)\s*(ms|usec)/.exec(out);
  if (!m) return null;
  return m[2] === 'usec' ? Number(m[1]) / 1000 : Number(m[1]);
}

export const ARP_FILTER = {
  underlay: 'arp',
  overlay: 'udp port 4789 and udp[28:2] = 0x0806',
};

export async function measureArp(
  target: { ns: string; dev: string; ip: string; captureNs: string },
  overlay: boolean,
  resolutions: number,
): Promise<ArpResult> {
  const filter = overlay ? ARP_FILTER.overlay : ARP_FILTER.underlay;
  const windowS = 5 + 2 * resolutions;
  const cap = run(['timeout', String(windowS), 'tcpdump', '-i', 'vxmu0', '-n', '-l', '-p', filter], { netns: target.captureNs, allowFailure: true, timeoutMs: (windowS + 5) * 1000 });
  await sleep(1000);
  const times: number[] = [];
  for (let i = 0; i < resolutions; i++) {
    await run(['ip', 'neigh', 'flush', 'dev', target.dev], { netns: target.ns, allowFailure: true });
    const r = await run(['arping', '-c', '1', '-w', '1', '-I', target.dev, target.ip], { netns: target.ns, allowFailure: true });
    const ms = parseArping(r.stdout);
    if (ms !== null) times.push(ms);
  }
  await sleep(300);
  await killInNetns(target.captureNs, 'tcpdump');
  const c = await cap;
  const m = /(\d+) packets? captured/.exec(c.stderr);
  if (!m) throw new Error(`tcpdump in ${target.captureNs} said: ${c.stderr.slice(-300)}`);
  if (!times.length) throw new Error(`arping ${target.ip} from ${target.ns} got no reply`);
  times.sort((a, b) => a - b);
  return { resolveMs: times[times.length >> 1]!, framesPerResolution: Number(m[1]) / resolutions };
}
