/**
 * The peer VTEP probe (agent/peer-probe.ts, agent/icmp-socket.ts) on real namespaces and real ICMP: three
 * nodes on an underlay switch, one in-process prober per node with its raw socket made in the node's
 * namespace (as an in-process test agent's). Positive control: every node sees both peers reachable with
 * a real RTT; negative control: an address no namespace holds is reported unreachable. Fault: the switch
 * drops everything from and to node 3 (an nft bridge rule in the lab's switch namespace; the node itself is
 * untouched), so nodes 1 and 2 report node 3 down within the bound while they keep seeing each other; after
 * the rule goes, node 3 is back. Then a peer leaving the intent loses its series at once, and stop closes
 * the sockets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, NODE_IPS } from '../helpers/kernel-lab.js';
import { PeerProber, type PeerReport } from '../../src/agent/peer-probe.js';
import type { NodeIntent } from '../../src/intent/types.js';
import { agentMetrics } from '../../src/metrics/agent.js';
import { nsName } from '../../src/lab/topology.js';
import { run } from '../../src/util/exec.js';
import { parseMetrics, samplesOf } from '../helpers/metrics.js';
import { waitFor } from '../helpers/lab.js';

const INTERVAL_MS = 300;
const MISSES = 3;
/** Unreachable after MISSES rounds without a reply, each waiting up to the interval: the bound, plus one round of slack. */
const DOWN_BOUND_MS = (MISSES + 1) * INTERVAL_MS + 1500;
const NOWHERE = '198.18.0.99';

let lab: Lab;
const probers = new Map<string, PeerProber>();
const latest = new Map<string, PeerReport[]>();

/** The lab's hand-built intent with the peers' node names, as computeIntent gives them. */
function intentOf(n: string, extraPeers: string[] = []): NodeIntent {
  lab.extraPeers = extraPeers;
  const intent = lab.intent(n);
  const cn = intent.clusterNetworks[0]!;
  cn.peerNodes = Object.fromEntries(lab.nodes.filter((x) => x !== n).map((x) => [NODE_IPS[x]!, lab.nodeName(x)]));
  return intent;
}

const reachable = (n: string) => Object.fromEntries((latest.get(n) ?? []).map((r) => [r.peerVtep, r.reachable ? 1 : 0]));

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('integration tests need root (CAP_NET_RAW) to open raw sockets in namespaces');
  lab = new Lab();
  await lab.build([], []);
  for (const n of lab.nodes) {
    const p = new PeerProber({ intervalMs: INTERVAL_MS, timeoutMs: INTERVAL_MS - 50, misses: MISSES, netns: lab.nodeNs(n), log: lab.log, onReport: (r) => latest.set(n, r) });
    probers.set(n, p);
    p.update(intentOf(n, [NOWHERE]));
    p.start();
  }
});

afterAll(async () => {
  for (const p of probers.values()) p.stop();
  await lab?.destroy();
});

async function dropAtSwitch(ip: string, on: boolean): Promise<void> {
  const ul = nsName(lab.prefix, 'ul');
  if (on) {
    await run(['nft', '-f', '-'], { netns: ul, input: `table bridge vxm_probe_fault {\n chain vxm_drop {\n  type filter hook forward priority 0;\n  ip saddr ${ip} drop\n  ip daddr ${ip} drop\n }\n}\n` });
  } else {
    await run(['nft', 'delete', 'table', 'bridge', 'vxm_probe_fault'], { netns: ul });
  }
}

describe('the peer VTEP probe on real namespaces', () => {
  it('with every node up, each reports both peers reachable with a real RTT, and an address nobody holds unreachable', async () => {
    const want = (n: string) => ({ ...Object.fromEntries(lab.nodes.filter((x) => x !== n).map((x) => [NODE_IPS[x]!, 1])), [NOWHERE]: 0 });
    const ms = await waitFor('every node to have a verdict on every peer', async () => lab.nodes.every((n) => JSON.stringify(reachable(n)) === JSON.stringify(want(n))), DOWN_BOUND_MS + 2000);
    console.log(`peer probe: first verdicts on all peers after ${ms} ms`);
    for (const n of lab.nodes) {
      expect(reachable(n), n).toEqual(want(n));
      for (const r of latest.get(n)!) {
        if (!r.reachable) {
          expect(r.rttSeconds).toBeUndefined();
          continue;
        }
        expect(r.peerNode).toBe(lab.nodeName(Object.keys(NODE_IPS).find((x) => NODE_IPS[x] === r.peerVtep)!));
        expect(r.rttSeconds).toBeGreaterThan(0);
        expect(r.rttSeconds).toBeLessThan(0.05);
      }
    }
    const rtts = lab.nodes.flatMap((n) => latest.get(n)!.filter((r) => r.reachable).map((r) => r.rttSeconds! * 1e6));
    console.log(`peer probe: RTTs ${rtts.map((r) => r.toFixed(0)).join(', ')} µs`);
    // The same reports through the agent's metrics, as a scrape shows them.
    const m = agentMetrics();
    m.recordPeers(latest.get('n1')!);
    const samples = parseMetrics(await m.render({ ready: true, invalidObjects: 0, packets: [] }));
    expect(samplesOf(samples, 'vxmesh_vtep_peer_reachable').map((s) => [s.labels.peer_vtep, s.labels.peer_node, s.value])).toEqual([
      [NODE_IPS.n2, lab.nodeName('n2'), 1], [NODE_IPS.n3, lab.nodeName('n3'), 1], [NOWHERE, '', 0],
    ]);
    expect(samplesOf(samples, 'vxmesh_vtep_peer_rtt_seconds').map((s) => s.labels.peer_vtep)).toEqual([NODE_IPS.n2, NODE_IPS.n3]);
  });

  it('a node the underlay cannot reach is reported unreachable by the others within the bound, the other peers stay reachable, and it comes back', async () => {
    for (const n of lab.nodes) probers.get(n)!.update(intentOf(n));
    await waitFor('no verdict on the unknown address left', async () => lab.nodes.every((n) => !(NOWHERE in reachable(n))), 1000);
    const t0 = Date.now();
    await dropAtSwitch(NODE_IPS.n3!, true);
    try {
      const down = await waitFor('n1 and n2 to report n3 unreachable', async () => reachable('n1')[NODE_IPS.n3!] === 0 && reachable('n2')[NODE_IPS.n3!] === 0, DOWN_BOUND_MS);
      console.log(`peer probe: n3 reported unreachable after ${down} ms (bound ${DOWN_BOUND_MS} ms, ${MISSES} rounds of ${INTERVAL_MS} ms)`);
      // Not before MISSES rounds: one lost probe does not flap the peer.
      expect(Date.now() - t0).toBeGreaterThanOrEqual((MISSES - 1) * INTERVAL_MS);
      expect(reachable('n1')).toEqual({ [NODE_IPS.n2!]: 1, [NODE_IPS.n3!]: 0 });
      expect(reachable('n2')).toEqual({ [NODE_IPS.n1!]: 1, [NODE_IPS.n3!]: 0 });
      await waitFor('n3 to report both peers unreachable', async () => JSON.stringify(reachable('n3')) === JSON.stringify({ [NODE_IPS.n1!]: 0, [NODE_IPS.n2!]: 0 }), DOWN_BOUND_MS);
      expect(latest.get('n1')!.find((r) => r.peerVtep === NODE_IPS.n3)!.rttSeconds).toBeUndefined();
    } finally {
      await dropAtSwitch(NODE_IPS.n3!, false);
    }
    const up = await waitFor('every peer reachable again', async () => lab.nodes.every((n) => Object.values(reachable(n)).every((v) => v === 1) && Object.keys(reachable(n)).length === 2), 3 * INTERVAL_MS + 1000);
    console.log(`peer probe: n3 reachable again after ${up} ms`);
  });

  it('a peer leaving the mesh loses its report at once; stop closes the raw sockets', async () => {
    const rawSockets = async (n: string) => (await run(['ss', '-H', '-w', '-a'], { netns: lab.nodeNs(n) })).stdout.trim().split('\n').filter(Boolean).length;
    expect(await rawSockets('n1')).toBe(1);
    const intent = intentOf('n1');
    intent.clusterNetworks[0]!.peers = [NODE_IPS.n2!];
    probers.get('n1')!.update(intent);
    expect(latest.get('n1')!.map((r) => r.peerVtep)).toEqual([NODE_IPS.n2]);
    probers.get('n1')!.stop();
    expect(await rawSockets('n1')).toBe(0);
    expect(await rawSockets('n2')).toBe(1);
  });
});
