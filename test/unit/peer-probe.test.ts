/**
 * The peer probe's decisions (agent/peer-probe.ts): echo packets and their checksum, reply matching, the
 * miss counting that keeps one lost probe from flapping a peer, and the prober's scheduling on a fake
 * socket and fake timers (rounds, socket failures, peers leaving, stop). The real socket and real ICMP
 * are test/integration/peer-probe.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import {
  PeerProber, echoRequest, inetChecksum, matchReply, parseEchoReply, peerReports, probeTargets, settle, type PeerReport,
} from '../../src/agent/peer-probe.js';
import type { Datagram, ProbeSocket, ProbeSocketSpec } from '../../src/agent/icmp-socket.js';
import type { ClusterNetworkIntent, NodeIntent } from '../../src/intent/types.js';
import { agentMetrics } from '../../src/metrics/agent.js';
import { parseMetrics, samplesOf } from '../helpers/metrics.js';
import { SyscallError } from '../../src/errors.js';

/** What a peer's kernel answers to `request`, as a raw socket reads it: IPv4 header (with `options` bytes) + echo reply. */
function replyPacket(from: string, request: Buffer, options = 0): Buffer {
  const ip = Buffer.alloc(20 + options);
  ip[0] = 0x40 | ((20 + options) / 4);
  ip[9] = 1;
  from.split('.').forEach((o, i) => (ip[12 + i] = Number(o)));
  const icmp = Buffer.from(request);
  icmp[0] = 0;
  icmp.writeUInt16BE(0, 2);
  icmp.writeUInt16BE(inetChecksum(icmp), 2);
  return Buffer.concat([ip, icmp]);
}

const cn = (name: string, localVtep: string, uplink: string, peers: string[], peerNodes?: Record<string, string>): ClusterNetworkIntent => ({
  name, uplink, uplinkMtu: 1500, localVtep, port: 4789, peers, networks: [], ...(peerNodes ? { peerNodes } : {}),
});
const intentOf = (...cns: ClusterNetworkIntent[]): NodeIntent => ({ node: 'n1', clusterNetworks: cns });

describe('echo packets', () => {
  it('computes the RFC 1071 checksum (its worked example) and a request that verifies to 0', () => {
    expect(inetChecksum(Buffer.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]))).toBe(0x220d);
    expect(inetChecksum(Buffer.from([0x01]))).toBe(0xfeff); // odd length: padded with a zero byte
    const req = echoRequest(0xbeef, 0x1234);
    expect([req[0], req[1], req.readUInt16BE(4), req.readUInt16BE(6)]).toEqual([8, 0, 0xbeef, 0x1234]);
    expect(inetChecksum(req)).toBe(0);
    expect(req.subarray(8).toString()).toBe('vxmprobe');
  });

  it('parses the reply to its request, with or without IP options; refuses other ICMP, foreign echo replies and short packets', () => {
    const req = echoRequest(7, 9);
    expect(parseEchoReply(replyPacket('198.18.0.12', req))).toEqual({ from: '198.18.0.12', id: 7, seq: 9 });
    expect(parseEchoReply(replyPacket('198.18.0.12', req, 4))).toEqual({ from: '198.18.0.12', id: 7, seq: 9 });
    const request = replyPacket('198.18.0.12', req);
    request[20] = 8;
    expect(parseEchoReply(request)).toBeUndefined(); // an echo request, not a reply
    const foreign = replyPacket('198.18.0.12', req);
    foreign.write('someping', 28);
    expect(parseEchoReply(foreign)).toBeUndefined(); // someone's ping, not the probe
    expect(parseEchoReply(replyPacket('198.18.0.12', req).subarray(0, 30))).toBeUndefined();
    expect(parseEchoReply(Buffer.alloc(40))).toBeUndefined(); // not IPv4
  });

  it('matches a reply by identifier, sequence and the peer it was sent to, once', () => {
    const sent = new Map([['198.18.0.12', 1_000_000_000n], ['198.18.0.13', 1_000_000_000n]]);
    expect(matchReply({ from: '198.18.0.12', id: 1, seq: 5 }, 2, 5, sent, 1_000_250_000n)).toBeUndefined(); // another prober
    expect(matchReply({ from: '198.18.0.12', id: 1, seq: 4 }, 1, 5, sent, 1_000_250_000n)).toBeUndefined(); // a late reply of an earlier round
    expect(matchReply({ from: '198.18.0.99', id: 1, seq: 5 }, 1, 5, sent, 1_000_250_000n)).toBeUndefined(); // not sent to
    expect(matchReply({ from: '198.18.0.12', id: 1, seq: 5 }, 1, 5, sent, 1_000_250_000n)).toBe(0.00025);
    expect(matchReply({ from: '198.18.0.12', id: 1, seq: 5 }, 1, 5, sent, 1_000_300_000n)).toBeUndefined(); // a duplicate
    expect([...sent.keys()]).toEqual(['198.18.0.13']);
  });
});

describe('verdicts', () => {
  it('takes every peer of every cluster network, labelled with its node where the intent names it', () => {
    const targets = probeTargets(intentOf(cn('edge', '198.19.0.1', 'eth2', ['198.19.0.2']), cn('overlay', '198.18.0.11', 'eth1', ['198.18.0.12', '198.18.0.13'], { '198.18.0.12': 'n2' })));
    expect(targets).toEqual([
      { clusterNetwork: 'edge', uplink: 'eth2', localVtep: '198.19.0.1', peer: '198.19.0.2' },
      { clusterNetwork: 'overlay', uplink: 'eth1', localVtep: '198.18.0.11', peer: '198.18.0.12', peerNode: 'n2' },
      { clusterNetwork: 'overlay', uplink: 'eth1', localVtep: '198.18.0.11', peer: '198.18.0.13' },
    ]);
  });

  it('has no verdict until the first reply or the third miss; one or two lost probes do not flap a reachable peer', () => {
    const run = (outcomes: Array<number | undefined>) => outcomes.reduce<ReturnType<typeof settle> | undefined>((s, o) => settle(s, o, 3), undefined);
    expect(run([undefined, undefined])?.reachable).toBeUndefined();
    expect(run([undefined, undefined, undefined])).toEqual({ misses: 3, reachable: false });
    expect(run([0.001])).toEqual({ misses: 0, reachable: true, rttSeconds: 0.001 });
    expect(run([0.001, undefined, undefined])).toEqual({ misses: 2, reachable: true, rttSeconds: 0.001 });
    expect(run([0.001, undefined, undefined, undefined])).toEqual({ misses: 3, reachable: false });
    expect(run([0.001, undefined, undefined, undefined, undefined, 0.002])).toEqual({ misses: 0, reachable: true, rttSeconds: 0.002 });
    const t = probeTargets(intentOf(cn('overlay', '198.18.0.11', 'eth1', ['198.18.0.12', '198.18.0.13'])));
    expect(peerReports(t, new Map([['overlay/198.18.0.13', { misses: 1 }], ['overlay/198.18.0.12', { misses: 3, reachable: false }]]))).toEqual([
      { clusterNetwork: 'overlay', peerVtep: '198.18.0.12', peerNode: '', reachable: false },
    ]);
  });
});

/** Fake sockets: peers in `answering` reply 250 µs after each request; `failOpen`/`failSend` make calls throw. */
class FakeNet {
  answering = new Set<string>();
  failOpen: string | undefined;
  failSend = new Set<string>();
  opened: ProbeSocketSpec[] = [];
  closed = 0;
  sent: string[] = [];
  open = (spec: ProbeSocketSpec): ProbeSocket => {
    if (this.failOpen) throw new SyscallError('socket', 1);
    this.opened.push(spec);
    const queue: Datagram[] = [];
    let open = true;
    return {
      send: (ip, icmp) => {
        if (this.failSend.has(ip)) throw new SyscallError(`sendto(${ip})`, 101);
        this.sent.push(ip);
        const at = BigInt(Date.now()) * 1_000_000n;
        if (this.answering.has(ip)) queue.push({ data: replyPacket(ip, icmp), atNs: at + 250_000n });
        return at;
      },
      receive: () => (open ? queue.shift() : undefined),
      close: () => {
        if (open) this.closed++;
        open = false;
      },
    };
  };
}

describe('PeerProber (fake socket, fake timers)', () => {
  let net: FakeNet;
  let reports: PeerReport[][];
  let warnings: string[];
  let prober: PeerProber;
  const last = () => Object.fromEntries((reports.at(-1) ?? []).map((r) => [r.peerVtep, r.reachable ? 1 : 0]));
  const intent = intentOf(cn('overlay', '198.18.0.11', 'eth1', ['198.18.0.12', '198.18.0.13'], { '198.18.0.12': 'n2', '198.18.0.13': 'n3' }));

  beforeEach(() => {
    vi.useFakeTimers();
    net = new FakeNet();
    net.answering = new Set(['198.18.0.12', '198.18.0.13']);
    reports = [];
    warnings = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line).err ?? JSON.parse(line).msg) });
    prober = new PeerProber({ intervalMs: 1000, timeoutMs: 500, misses: 3, log, onReport: (r) => reports.push(r), open: net.open, id: 42 });
  });
  afterEach(() => {
    prober.stop();
    vi.useRealTimers();
  });

  it('probes as soon as the first intent arrives, one request per peer per round, through one socket per VTEP address and uplink', async () => {
    prober.start();
    expect(net.sent).toEqual([]); // no intent, nothing to probe
    prober.update(intentOf(
      cn('overlay', '198.18.0.11', 'eth1', ['198.18.0.12', '198.18.0.13']),
      cn('also', '198.18.0.11', 'eth1', ['198.18.0.12']), // the same VTEP and uplink: the same socket, one request
      cn('edge', '198.19.0.1', 'eth2', ['198.19.0.2']),
    ));
    expect(net.sent).toEqual(['198.18.0.12', '198.18.0.13', '198.19.0.2']);
    expect(net.opened.map((s) => `${s.localVtep}%${s.uplink}`)).toEqual(['198.18.0.11%eth1', '198.19.0.1%eth2']);
    await vi.advanceTimersByTimeAsync(20);
    expect(reports).toEqual([]); // the round waits for the silent peer until its deadline
    await vi.advanceTimersByTimeAsync(500);
    // The replies of the peers that answer; the silent one has no verdict yet (one miss).
    expect(reports.at(-1)!.map((r) => `${r.clusterNetwork} ${r.peerVtep} ${r.reachable} ${r.rttSeconds}`)).toEqual([
      'overlay 198.18.0.12 true 0.00025', 'overlay 198.18.0.13 true 0.00025', 'also 198.18.0.12 true 0.00025',
    ]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(net.sent).toHaveLength(6);
  });

  it('reports a silent peer unreachable after the third missed round only, the others stay reachable; the first reply brings it back', async () => {
    prober.update(intent);
    prober.start();
    await vi.advanceTimersByTimeAsync(20);
    expect(last()).toEqual({ '198.18.0.12': 1, '198.18.0.13': 1 });
    net.answering.delete('198.18.0.13');
    await vi.advanceTimersByTimeAsync(1000 + 500); // miss 1 (the round waits out its 500 ms)
    expect(last()).toEqual({ '198.18.0.12': 1, '198.18.0.13': 1 });
    await vi.advanceTimersByTimeAsync(1000); // miss 2
    expect(last()).toEqual({ '198.18.0.12': 1, '198.18.0.13': 1 });
    await vi.advanceTimersByTimeAsync(1000); // miss 3
    expect(last()).toEqual({ '198.18.0.12': 1, '198.18.0.13': 0 });
    expect(reports.at(-1)!.find((r) => r.peerVtep === '198.18.0.13')!.rttSeconds).toBeUndefined();
    expect(warnings).toEqual(['peer VTEP unreachable']);
    net.answering.add('198.18.0.13');
    await vi.advanceTimersByTimeAsync(1000);
    expect(last()).toEqual({ '198.18.0.12': 1, '198.18.0.13': 1 });
  });

  it('never overlaps rounds: a round still running when the interval comes round again (its poll late: a busy event loop) is left to finish', async () => {
    const slow = new PeerProber({ intervalMs: 100, timeoutMs: 1000, pollMs: 150, log: pino({ level: 'silent' }), onReport: () => {}, open: net.open });
    net.answering.clear();
    slow.update(intent);
    slow.start();
    await vi.advanceTimersByTimeAsync(250);
    // The round of 0 ms (deadline 80 ms: the timeout is held to 80 % of the interval) is read only at 150 ms,
    // so the tick of 100 ms found it running and skipped: rounds at 0 and 200 ms (overlapping ones would have sent 6).
    expect(net.sent).toHaveLength(4);
    slow.stop();
  });

  it('gives no verdict while the socket cannot be opened (warned once), and probes once it can', async () => {
    net.failOpen = 'EPERM';
    prober.update(intent);
    prober.start();
    await vi.advanceTimersByTimeAsync(3000);
    expect(reports).toEqual([]);
    expect(warnings).toEqual(['peer probe socket on eth1 (198.18.0.11) cannot be opened: socket failed: errno 1 (EPERM)']);
    net.failOpen = undefined;
    await vi.advanceTimersByTimeAsync(1100);
    expect(last()).toEqual({ '198.18.0.12': 1, '198.18.0.13': 1 });
  });

  it('counts a request that cannot be sent as a miss of that peer only (warned once), and opens the socket anew for the next round', async () => {
    prober.update(intent);
    prober.start();
    await vi.advanceTimersByTimeAsync(20);
    net.failSend.add('198.18.0.12');
    await vi.advanceTimersByTimeAsync(3100); // rounds at 1, 2 and 3 s
    expect(last()).toEqual({ '198.18.0.12': 0, '198.18.0.13': 1 });
    expect({ opened: net.opened.length, closed: net.closed }).toEqual({ opened: 3, closed: 3 });
    expect(warnings).toEqual(['peer probe cannot send from 198.18.0.11 on eth1: sendto(198.18.0.12) failed: errno 101 (ENETUNREACH)', 'peer VTEP unreachable']);
    net.failSend.clear();
    await vi.advanceTimersByTimeAsync(1000);
    expect(last()).toEqual({ '198.18.0.12': 1, '198.18.0.13': 1 });
    expect({ opened: net.opened.length, closed: net.closed }).toEqual({ opened: 4, closed: 3 });
  });

  it('drops a peer that left the mesh from the report at once, closes a socket no cluster network uses, and closes all on stop', async () => {
    prober.update(intent);
    prober.start();
    await vi.advanceTimersByTimeAsync(20);
    const n = reports.length;
    prober.update(intentOf(cn('overlay', '198.18.0.11', 'eth1', ['198.18.0.12'], { '198.18.0.12': 'n2' })));
    expect(reports).toHaveLength(n + 1);
    expect(reports.at(-1)).toEqual([{ clusterNetwork: 'overlay', peerVtep: '198.18.0.12', peerNode: 'n2', reachable: true, rttSeconds: 0.00025 }]);
    prober.update(intentOf(cn('overlay', '198.18.0.21', 'eth1', ['198.18.0.12']))); // a new VTEP address: a new socket
    expect(net.closed).toBe(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(net.opened.map((s) => s.localVtep)).toEqual(['198.18.0.11', '198.18.0.21']);
    prober.stop();
    expect(net.closed).toBe(2);
    const sent = net.sent.length;
    await vi.advanceTimersByTimeAsync(5000);
    expect(net.sent).toHaveLength(sent);
  });
});

describe('the peer metrics', () => {
  it('render reachability and RTT per peer; a peer gone or unreachable leaves no stale series', async () => {
    const m = agentMetrics();
    const scrape = async () => parseMetrics(await m.render({ ready: true, invalidObjects: 0, packets: [] }));
    m.recordPeers([
      { clusterNetwork: 'overlay', peerVtep: '198.18.0.12', peerNode: 'n2', reachable: true, rttSeconds: 0.0003 },
      { clusterNetwork: 'overlay', peerVtep: '198.18.0.13', peerNode: 'n3', reachable: true, rttSeconds: 0.0004 },
    ]);
    const text = await m.render({ ready: true, invalidObjects: 0, packets: [] });
    expect(text).toContain('vxmesh_vtep_peer_reachable{cluster_network="overlay",peer_vtep="198.18.0.12",peer_node="n2"} 1');
    expect(text).toContain('vxmesh_vtep_peer_rtt_seconds{cluster_network="overlay",peer_vtep="198.18.0.13",peer_node="n3"} 0.0004');
    expect(text).toMatch(/# HELP vxmesh_vtep_peer_reachable .*nodes².*--peer-probe-interval 0/);
    m.recordPeers([{ clusterNetwork: 'overlay', peerVtep: '198.18.0.12', peerNode: 'n2', reachable: false }]);
    const s = await scrape();
    expect(samplesOf(s, 'vxmesh_vtep_peer_reachable').map((x) => [x.labels.peer_vtep, x.value])).toEqual([['198.18.0.12', 0]]);
    expect(samplesOf(s, 'vxmesh_vtep_peer_rtt_seconds')).toEqual([]);
  });
});
