/** The data-path figures the bench reports, with units and which direction is better. */
export const METRICS = [
  { key: 'tcpCross1', label: 'TCP cross-node, 1 stream', unit: 'Gbit/s', higherBetter: true },
  { key: 'tcpCross4', label: 'TCP cross-node, 4 streams', unit: 'Gbit/s', higherBetter: true },
  { key: 'tcpSame', label: 'TCP same-node', unit: 'Gbit/s', higherBetter: true },
  { key: 'tcpExt', label: 'TCP to external (gateway NAT)', unit: 'Gbit/s', higherBetter: true },
  { key: 'udp64Pps', label: 'UDP 64 B cross-node', unit: 'kpps', higherBetter: true },
  { key: 'tcpRr', label: 'TCP request/response cross-node (sockperf, TCP_RR-style)', unit: 'trans/s', higherBetter: true },
  { key: 'rttP50Us', label: 'RTT p50 cross-node (sockperf)', unit: 'µs', higherBetter: false },
  { key: 'rttP99Us', label: 'RTT p99 cross-node (sockperf)', unit: 'µs', higherBetter: false },
  { key: 'cpuCross1', label: 'CPU per GB, cross-node 1 stream', unit: 'CPU-s/GB', higherBetter: false },
  { key: 'cpuCross4', label: 'CPU per GB, cross-node 4 streams', unit: 'CPU-s/GB', higherBetter: false },
  { key: 'arpResolveMs', label: 'ARP resolution of the remote peer', unit: 'ms', higherBetter: false },
  { key: 'arpFrames', label: 'ARP frames on the underlay per resolution', unit: 'frames', higherBetter: false },
] as const;

export type MetricKey = (typeof METRICS)[number]['key'];
