/**
 * The agent's metric families on a prom-client registry of its own (never the global one: tests run
 * several agents in one process). Names are part of the user-facing contract; see the README.
 * The agent hands in plain numbers: after each pass (PassSample) and at each scrape (ScrapeSample, read
 * then: readiness, invalid objects, the BPF packet counters); this module only keeps and renders them.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { EventsLost, PacketCounter } from '../dataplane/dataplane.js';
import type { PeerReport } from '../agent/peer-probe.js';

export interface PassSample {
  durationMs: number;
  /** Dataplane and VTEPs without error (invalid input objects do not count: they are reported apart). */
  converged: boolean;
  /** What the dataplane holds after the pass, by kind; absent when it could not tell (previous values kept). */
  entries?: Record<string, number>;
  /** The pass stopped before the dataplane, nothing applied: which input could not be read (source, uplink, intent). */
  held?: string;
  /** Map entries the kernel refused this pass (e.g. a full map), by map; their networks report errors. */
  refusedEntries?: Record<string, number>;
  /** Per cluster network: this node has a VTEP address on it (false: missing); absent: previous values kept. */
  vteps?: Record<string, boolean>;
}

export interface ScrapeSample {
  ready: boolean;
  invalidObjects: number;
  /** Monotonic counters of the bpf programs, read now; empty in kernel mode. */
  packets: PacketCounter[];
  /** Events the bpf programs could not send (vxm_ev_cpu), read now; absent in kernel mode. */
  eventsLost?: EventsLost;
  /** Failed reads of the source since start (the snapshot was kept, the dataplane left as it is). */
  sourceReadErrors?: number;
}

export interface AgentMetricsOptions {
  /** Also the Node.js process metrics (CPU, memory, event loop lag, GC), prefixed `vxmesh_`. */
  processMetrics?: boolean;
}

export interface AgentMetrics {
  readonly registry: Registry;
  recordPass(p: PassSample): void;
  /** Every peer VTEP with a verdict after a probe round (agent/peer-probe.ts): the others' series go. */
  recordPeers(peers: PeerReport[]): void;
  /** Text exposition format 0.0.4 with the scrape-time values set from `s`. */
  render(s: ScrapeSample): Promise<string>;
}

export function agentMetrics(o: AgentMetricsOptions = {}): AgentMetrics {
  const registry = new Registry();
  const registers = [registry];
  const duration = new Histogram({
    name: 'vxmesh_reconcile_duration_seconds', help: 'Time one reconcile of the node dataplane took, by result (ok|error).',
    labelNames: ['result'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers,
  });
  const errors = new Counter({ name: 'vxmesh_reconcile_errors_total', help: 'Reconciles that left the dataplane with an error.', registers });
  const entries = new Gauge({
    name: 'vxmesh_entries_programmed',
    help: 'Entries vxmesh holds in the dataplane, by kind: BPF map entries (kind=vxm_ports, vxm_endpoints, ...) in bpf mode; static fdb and neigh entries in kernel mode. Set by each pass that wrote them.',
    labelNames: ['kind'], registers,
  });
  const invalid = new Gauge({ name: 'vxmesh_invalid_objects', help: 'Cluster objects (or documents) in the current snapshot rejected by validation; the last good version of each is kept.', registers });
  // Counters mirrored from the kernel's monotonic vxm_stats: set, not incremented, at each scrape (a program
  // reload restarts them from zero, which Prometheus treats as a counter reset).
  const packets = new Counter({
    name: 'vxmesh_packets_total',
    help: 'Packets handled by the BPF programs since they were loaded, by VNI and verdict (vxm_stats). No samples in kernel mode.',
    labelNames: ['vni', 'verdict'], registers,
  });
  const bytes = new Counter({
    name: 'vxmesh_bytes_total',
    help: 'Bytes handled by the BPF programs since they were loaded, by VNI and verdict (vxm_stats). No samples in kernel mode.',
    labelNames: ['vni', 'verdict'], registers,
  });
  // Drops by reason are vxmesh_packets_total{verdict=~"dropped-.*"} already (vxm_stats); what the events
  // add is only what they could not tell: the ones lost, never counted among the drops.
  const eventsLost = new Counter({
    name: 'vxmesh_events_lost_total',
    help: 'Verdict events of the BPF programs (vxmesh monitor) not sent since they were loaded, by cause: over-budget (the per-CPU rate limit) or ring-full (the reader is behind). No samples in kernel mode.',
    labelNames: ['cause'], registers,
  });
  const held = new Counter({
    name: 'vxmesh_passes_held_total',
    help: 'Passes that stopped before the dataplane because an input could not be read, by stage (source|uplink|intent); the dataplane was left as it is.',
    labelNames: ['stage'], registers,
  });
  const refused = new Counter({
    name: 'vxmesh_map_entries_refused_total',
    help: 'BPF map entries the kernel refused to write (e.g. the map is full), by map; only the networks concerned fail.',
    labelNames: ['map'], registers,
  });
  const sourceErrors = new Counter({
    name: 'vxmesh_source_read_errors_total',
    help: 'Reads of the source that failed (e.g. the state directory could not be listed); the last snapshot was kept.',
    registers,
  });
  const vtep = new Gauge({
    name: 'vxmesh_vtep_ready',
    help: '1 while this node has a VTEP address on the cluster network (VxlanStatus condition VtepReady), 0 when it has none: peers cannot tunnel to its VMs.',
    labelNames: ['cluster_network'], registers,
  });
  // One series per peer VTEP per cluster network on every node: nodes² in the cluster (the agent's
  // --peer-probe-interval 0, chart value agent.peerProbeInterval: 0, turns the probe and these series off).
  const peerLabels = ['cluster_network', 'peer_vtep', 'peer_node'];
  const peerReachable = new Gauge({
    name: 'vxmesh_vtep_peer_reachable',
    help: '1 while the peer VTEP answers ICMP echo sent from this node\'s VTEP over the cluster network\'s uplink, 0 after 3 probes in a row without a reply (the underlay a tunnel needs). One series per peer per node: grows with nodes²; --peer-probe-interval 0 (chart: agent.peerProbeInterval: 0) turns it off.',
    labelNames: peerLabels, registers,
  });
  const peerRtt = new Gauge({
    name: 'vxmesh_vtep_peer_rtt_seconds',
    help: 'Round-trip time of the latest ICMP echo to the peer VTEP (kernel receive time); absent while the peer is unreachable. Grows with nodes² like vxmesh_vtep_peer_reachable; --peer-probe-interval 0 turns it off.',
    labelNames: peerLabels, registers,
  });
  const ready = new Gauge({ name: 'vxmesh_agent_ready', help: '1 while /readyz answers 200: the first reconcile is done and the last one converged.', registers });
  if (o.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'vxmesh_' });

  return {
    registry,
    recordPass(p) {
      duration.observe({ result: p.converged ? 'ok' : 'error' }, p.durationMs / 1000);
      if (!p.converged) errors.inc();
      if (p.held) held.inc({ stage: p.held });
      for (const [map, n] of Object.entries(p.refusedEntries ?? {})) refused.inc({ map }, n);
      if (p.vteps) {
        vtep.reset();
        for (const [cn, ok] of Object.entries(p.vteps)) vtep.set({ cluster_network: cn }, ok ? 1 : 0);
      }
      if (!p.entries) return;
      entries.reset();
      for (const [kind, n] of Object.entries(p.entries)) entries.set({ kind }, n);
    },
    recordPeers(peers) {
      // Reset, then set: a peer that left the mesh (or turned unreachable, for the RTT) leaves no stale series.
      peerReachable.reset();
      peerRtt.reset();
      for (const p of peers) {
        const labels = { cluster_network: p.clusterNetwork, peer_vtep: p.peerVtep, peer_node: p.peerNode };
        peerReachable.set(labels, p.reachable ? 1 : 0);
        if (p.rttSeconds !== undefined) peerRtt.set(labels, p.rttSeconds);
      }
    },
    async render(s) {
      ready.set(s.ready ? 1 : 0);
      invalid.set(s.invalidObjects);
      sourceErrors.reset();
      sourceErrors.inc(s.sourceReadErrors ?? 0);
      packets.reset();
      bytes.reset();
      for (const c of s.packets) {
        packets.inc({ vni: c.vni, verdict: c.verdict }, c.packets);
        bytes.inc({ vni: c.vni, verdict: c.verdict }, c.bytes);
      }
      eventsLost.reset();
      if (s.eventsLost) {
        eventsLost.inc({ cause: 'over-budget' }, s.eventsLost.overBudget);
        eventsLost.inc({ cause: 'ring-full' }, s.eventsLost.ringFull);
      }
      return registry.metrics();
    },
  };
}
