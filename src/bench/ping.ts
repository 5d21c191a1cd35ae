/** Parsing `ping -D -O` output: which sequence numbers were answered, and when. */

export interface PingLog {
  transmitted: number;
  received: number;
  lost: number;
  /** icmp_seq -> reply time (epoch seconds). */
  replies: Map<number, number>;
  /**
   * Seconds from `t` (epoch seconds) to the first reply after the last lost packet (or, with no loss, to
   * the first reply after `t`); null when nothing answered after `t`.
   */
  convergedAfter(t: number): number | null;
}

export function parsePingLog(out: string): PingLog {
  const replies = new Map<number, number>();
  for (const m of out.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from [^:]+: icmp_seq=(\d+)/gm)) {
    if (!replies.has(Number(m[2]))) replies.set(Number(m[2]), Number(m[1]));
  }
  const sum = /(\d+) packets transmitted, (\d+) received/.exec(out);
  const transmitted = sum ? Number(sum[1]) : Math.max(0, ...replies.keys());
  const received = sum ? Number(sum[2]) : replies.size;
  const first = Math.min(...replies.keys(), 1);
  const lostSeqs: number[] = [];
  for (let q = first; q < first + transmitted; q++) if (!replies.has(q)) lostSeqs.push(q);
  return {
    transmitted,
    received,
    lost: transmitted - received,
    replies,
    convergedAfter(t: number): number | null {
      const lastLost = lostSeqs.length ? Math.max(...lostSeqs) : -1;
      const after = [...replies.entries()].filter(([q, ts]) => q > lastLost && ts >= t).map(([, ts]) => ts);
      if (!after.length) return null;
      return Math.min(...after) - t;
    },
  };
}
