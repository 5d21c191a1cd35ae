/**
 * Per-peer VTEP reachability: every interval one ICMP echo request from this node's VTEP address, out of the
 * cluster network's uplink, to every peer VTEP of every cluster network this node is a member of (the
 * intent's `peers`): what the tunnels need from the underlay before anything else. A peer is unreachable
 * after `misses` consecutive rounds without its reply (one lost probe does not flap it), reachable again at
 * the first reply; before either it has no verdict (no series: a starting agent reports no false zero).
 * One raw socket per (VTEP address, uplink), no process per peer: a round is a few sendto calls and a
 * non-blocking read polled from a timer until the deadline (agent/icmp-socket.ts is the I/O).
 * The decisions (targets, packets, verdicts) are the pure functions below; PeerProber only schedules them.
 */
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import type { NodeIntent } from '../intent/types.js';
import { openProbeSocket, type ProbeSocket, type ProbeSocketSpec } from './icmp-socket.js';

const ICMP_ECHO_REQUEST = 8;
const ICMP_ECHO_REPLY = 0;
/** In every request's payload (and so in every reply): what a capture on the underlay shows, and a check on replies. */
const MARKER = Buffer.from('vxmprobe');

/** The Internet checksum (RFC 1071) of `b`. */
export function inetChecksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
  if (b.length % 2) sum += b[b.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An ICMP echo request (no IP header: the raw socket adds it) with identifier `id` and sequence `seq`. */
export function echoRequest(id: number, seq: number): Buffer {
  const b = Buffer.alloc(8 + MARKER.length);
  b.writeUInt8(ICMP_ECHO_REQUEST, 0);
  b.writeUInt16BE(id & 0xffff, 4);
  b.writeUInt16BE(seq & 0xffff, 6);
  MARKER.copy(b, 8);
  b.writeUInt16BE(inetChecksum(b), 2);
  return b;
}

export interface EchoReply {
  /** The IPv4 source: the peer that answered. */
  from: string;
  id: number;
  seq: number;
}

/** The echo reply in an IPv4 packet read from a raw ICMP socket; undefined for anything else (or not ours: no marker). */
export function parseEchoReply(packet: Buffer): EchoReply | undefined {
  if (packet.length < 20 || packet[0]! >> 4 !== 4) return undefined;
  const ihl = (packet[0]! & 0x0f) * 4;
  const icmp = packet.subarray(ihl);
  if (ihl < 20 || icmp.length < 8 + MARKER.length || icmp[0] !== ICMP_ECHO_REPLY || icmp[1] !== 0) return undefined;
  if (!icmp.subarray(8, 8 + MARKER.length).equals(MARKER)) return undefined;
  return { from: [...packet.subarray(12, 16)].join('.'), id: icmp.readUInt16BE(4), seq: icmp.readUInt16BE(6) };
}

/** One peer VTEP to probe on one cluster network. */
export interface ProbeTarget {
  clusterNetwork: string;
  uplink: string;
  localVtep: string;
  peer: string;
  /** The node that publishes `peer`, when the intent names it. */
  peerNode?: string;
}

/** Every peer of every cluster network of the intent, in its order (cluster network, then peer address). */
export function probeTargets(intent: NodeIntent): ProbeTarget[] {
  return intent.clusterNetworks.flatMap((cn) => cn.peers.map((peer): ProbeTarget => ({
    clusterNetwork: cn.name, uplink: cn.uplink, localVtep: cn.localVtep, peer, ...(cn.peerNodes?.[peer] ? { peerNode: cn.peerNodes[peer] } : {}),
  })));
}

/** The socket a target is probed through: one per (VTEP address, uplink), shared by the cluster networks on it. */
export const socketKey = (t: Pick<ProbeTarget, 'localVtep' | 'uplink'>) => `${t.localVtep}%${t.uplink}`;
const targetKey = (t: Pick<ProbeTarget, 'clusterNetwork' | 'peer'>) => `${t.clusterNetwork}/${t.peer}`;

export interface PeerState {
  /** Consecutive rounds without a reply. */
  misses: number;
  /** Undefined until the first reply or `threshold` misses. */
  reachable?: boolean;
  /** RTT of the latest reply, while reachable. */
  rttSeconds?: number;
}

/** A peer's state after one round: `rttSeconds` when it answered, undefined when it did not. */
export function settle(prev: PeerState | undefined, rttSeconds: number | undefined, threshold: number): PeerState {
  if (rttSeconds !== undefined) return { misses: 0, reachable: true, rttSeconds };
  const misses = (prev?.misses ?? 0) + 1;
  if (misses >= threshold) return { misses, reachable: false };
  return { ...prev, misses };
}

/** What the metrics show of one peer (agent metrics `vxmesh_vtep_peer_*`). */
export interface PeerReport {
  clusterNetwork: string;
  peerVtep: string;
  peerNode: string;
  reachable: boolean;
  rttSeconds?: number;
}

/** The peers of `targets` that have a verdict, as the metrics show them. */
export function peerReports(targets: ProbeTarget[], states: ReadonlyMap<string, PeerState>): PeerReport[] {
  const out: PeerReport[] = [];
  for (const t of targets) {
    const s = states.get(targetKey(t));
    if (s?.reachable === undefined) continue;
    out.push({ clusterNetwork: t.clusterNetwork, peerVtep: t.peer, peerNode: t.peerNode ?? '', reachable: s.reachable, ...(s.rttSeconds !== undefined ? { rttSeconds: s.rttSeconds } : {}) });
  }
  return out;
}

/**
 * The RTT of `reply` if it answers a request of this round (our identifier and sequence, from a peer sent
 * to), else undefined. `sent`: peer address -> when its request left (ns); a reply is taken once.
 */
export function matchReply(reply: EchoReply, id: number, seq: number, sent: Map<string, bigint>, atNs: bigint): number | undefined {
  if (reply.id !== id || reply.seq !== seq) return undefined;
  const at = sent.get(reply.from);
  if (at === undefined) return undefined;
  sent.delete(reply.from);
  return Math.max(0, Number(atNs - at)) / 1e9;
}

export interface PeerProberOptions {
  /** Time between rounds; the first round starts at once. */
  intervalMs: number;
  /** How long a round waits for replies (at most 80 % of the interval); default 1 s. */
  timeoutMs?: number;
  /** Consecutive missed rounds before a peer is unreachable; default 3. */
  misses?: number;
  /** How often a round reads its sockets; default 20 ms (RTTs come from the kernel's receive time, not this). */
  pollMs?: number;
  /** Namespace holding the uplinks (in-process test agents). */
  netns?: string;
  log: Logger;
  /** Called with every peer that has a verdict after each round, and when peers leave the mesh. */
  onReport: (reports: PeerReport[]) => void;
  /** The socket factory (tests pass a fake); default agent/icmp-socket.ts. */
  open?: (spec: ProbeSocketSpec) => ProbeSocket;
  /** ICMP identifier of this prober; default random (a pid is 1 in every container). */
  id?: number;
}

interface Round {
  seq: number;
  deadline: number;
  /** Per socket key: requests awaiting a reply (peer -> sent at, ns). */
  pending: Map<string, Map<string, bigint>>;
  /** Per socket key, peer -> RTT of the replies so far. */
  replied: Map<string, Map<string, number>>;
  /** Per socket key, the peers whose request could not be sent: missed. */
  unsent: Map<string, Set<string>>;
  /** Socket keys to close at the end of the round (opened anew by the next): a send or a read failed. */
  reopen: Set<string>;
  poll: NodeJS.Timeout;
}

export class PeerProber {
  private targets: ProbeTarget[] = [];
  private readonly states = new Map<string, PeerState>();
  private readonly sockets = new Map<string, ProbeSocket>();
  /** The problems logged per socket key: each distinct one once, until a round on the socket has none. */
  private readonly problems = new Map<string, Set<string>>();
  private round: Round | undefined;
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;
  private readonly id: number;
  private readonly threshold: number;
  private readonly timeoutMs: number;
  private readonly open: (spec: ProbeSocketSpec) => ProbeSocket;

  constructor(private readonly o: PeerProberOptions) {
    this.id = o.id ?? crypto.randomInt(1, 0x10000);
    this.threshold = o.misses ?? 3;
    // Well inside the interval: a round that waited out a full interval would still be running at the next
    // tick, which then skips (rounds never overlap), and a silent peer would take twice as long to be reported.
    this.timeoutMs = Math.min(o.timeoutMs ?? 1000, o.intervalMs * 0.8);
    this.open = o.open ?? openProbeSocket;
  }

  /** The peers of the latest intent (each pass that reached the dataplane hands it in). */
  update(intent: NodeIntent): void {
    this.targets = probeTargets(intent);
    const keep = new Set(this.targets.map(targetKey));
    let left = false;
    for (const k of [...this.states.keys()]) {
      if (keep.has(k)) continue;
      this.states.delete(k);
      left = true;
    }
    const sockets = new Set(this.targets.map(socketKey));
    for (const [k, s] of [...this.sockets]) {
      if (sockets.has(k)) continue;
      s.close();
      this.sockets.delete(k);
      this.problems.delete(k);
    }
    // A peer that left the mesh loses its series now, not at the end of the next round.
    if (left) this.report();
    // The first intent of a started prober: probe now rather than an interval later.
    if (this.timer && this.seq === 0) this.begin();
  }

  start(): void {
    this.timer = setInterval(() => this.begin(), this.o.intervalMs);
    this.timer.unref();
    this.begin();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.round) clearInterval(this.round.poll);
    this.round = undefined;
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }

  /** Sends this round's requests; a round still waiting for replies is left to finish (rounds never overlap). */
  private begin(): void {
    if (this.round || this.targets.length === 0) return;
    this.seq = (this.seq + 1) & 0xffff;
    const request = echoRequest(this.id, this.seq);
    const round: Round = {
      seq: this.seq, deadline: Date.now() + this.timeoutMs, pending: new Map(), replied: new Map(), unsent: new Map(), reopen: new Set(),
      poll: undefined as unknown as NodeJS.Timeout,
    };
    for (const t of this.targets) {
      const key = socketKey(t);
      if (!round.pending.has(key)) {
        if (!this.socketFor(t)) continue; // no verdict this round (see socketFor)
        round.pending.set(key, new Map());
        round.replied.set(key, new Map());
        round.unsent.set(key, new Set());
      }
      const pending = round.pending.get(key)!;
      const unsent = round.unsent.get(key)!;
      if (pending.has(t.peer) || unsent.has(t.peer)) continue; // another cluster network on this socket sent it
      try {
        pending.set(t.peer, this.sockets.get(key)!.send(t.peer, request));
      } catch (err) {
        // Not sent (no route, the neighbour unresolved, the uplink down): a miss of this peer like a lost
        // reply; the others are still sent to. The socket is made anew next round, in case its device was
        // re-created (a socket bound to the old one would fail for good).
        unsent.add(t.peer);
        round.reopen.add(key);
        this.problem(key, `peer probe cannot send from ${t.localVtep} on ${t.uplink}: ${(err as Error).message}`);
      }
    }
    if (round.pending.size === 0) return;
    round.poll = setInterval(() => this.poll(round), this.o.pollMs ?? 20);
    round.poll.unref();
    this.round = round;
  }

  /**
   * The socket of `t`'s VTEP address and uplink, opened if needed; undefined when it cannot be (no
   * CAP_NET_RAW, the address or the device gone): its peers get no verdict rather than a false zero, the
   * node's own VTEP alert (vxmesh_vtep_ready) covers a missing address.
   */
  private socketFor(t: ProbeTarget): ProbeSocket | undefined {
    const key = socketKey(t);
    const have = this.sockets.get(key);
    if (have) return have;
    try {
      const s = this.open({ localVtep: t.localVtep, uplink: t.uplink, netns: this.o.netns });
      this.sockets.set(key, s);
      return s;
    } catch (err) {
      this.problem(key, `peer probe socket on ${t.uplink} (${t.localVtep}) cannot be opened: ${(err as Error).message}`);
      return undefined;
    }
  }

  private problem(key: string, message: string): void {
    const seen = this.problems.get(key) ?? new Set<string>();
    this.problems.set(key, seen);
    if (seen.has(message)) return;
    seen.add(message);
    this.o.log.warn({ err: message }, 'peer probe problem');
  }

  private poll(round: Round): void {
    if (this.round !== round) return;
    for (const [key, pending] of round.pending) {
      const socket = this.sockets.get(key);
      if (!socket || pending.size === 0) continue;
      try {
        // Bounded: a flood of other echo replies cannot keep the event loop here.
        for (let i = 0; i < 4096 && pending.size > 0; i++) {
          const d = socket.receive();
          if (!d) break;
          const reply = parseEchoReply(d.data);
          if (!reply) continue;
          const rtt = matchReply(reply, this.id, round.seq, pending, d.atNs);
          if (rtt !== undefined) round.replied.get(key)!.set(reply.from, rtt);
        }
      } catch (err) {
        // The requests still pending are missed; the socket is made anew next round.
        this.problem(key, `peer probe cannot read replies: ${(err as Error).message}`);
        round.reopen.add(key);
        pending.clear();
      }
    }
    const waiting = [...round.pending.values()].some((p) => p.size > 0);
    if (!waiting || Date.now() >= round.deadline) this.finish(round);
  }

  private finish(round: Round): void {
    clearInterval(round.poll);
    this.round = undefined;
    for (const t of this.targets) {
      const key = socketKey(t);
      const replied = round.replied.get(key);
      if (!replied) continue; // not probed this round (no socket)
      const rtt = replied.get(t.peer);
      const probed = rtt !== undefined || round.pending.get(key)!.has(t.peer) || round.unsent.get(key)!.has(t.peer) || round.reopen.has(key);
      if (!probed) continue; // a peer that joined during the round
      const prev = this.states.get(targetKey(t));
      const next = settle(prev, rtt, this.threshold);
      this.states.set(targetKey(t), next);
      if (next.reachable !== prev?.reachable && next.reachable !== undefined) {
        const fields = { clusterNetwork: t.clusterNetwork, peer: t.peer, peerNode: t.peerNode, misses: next.misses };
        if (next.reachable) this.o.log.info(fields, 'peer VTEP reachable');
        else this.o.log.warn(fields, 'peer VTEP unreachable');
      }
    }
    for (const key of round.replied.keys()) {
      if (!round.reopen.has(key)) {
        this.problems.delete(key); // a problem that comes back is logged again
        continue;
      }
      this.sockets.get(key)?.close();
      this.sockets.delete(key);
    }
    this.report();
  }

  private report(): void {
    try {
      this.o.onReport(peerReports(this.targets, this.states));
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'peer probe report failed');
    }
  }
}
