/**
 * One control-plane measurement in a fresh process (so RSS is this size's alone):
 *   node dist/bench/cp-worker.js --mode kernel|bpf --size N --id ID
 * Builds one node namespace `vxm-b<ID>c-n1` on its own underlay, programs N remote endpoints (spread over
 * 32 peer VTEPs, one network) through the dataplane's reconcile (kernel: ip/bridge/nft batches; bpf: map
 * updates), then moves one endpoint to another VTEP and reconciles again. Prints one JSON line; removes
 * everything it created, even on failure.
 */
import type { DataplaneMode } from '../dataplane/dataplane.js';
import type { EndpointIntent, NodeIntent } from '../intent/types.js';
import { gatewayMac } from '../dataplane/names.js';
import { intToIp, ipToInt } from '../util/ipv4.js';
import { NODE_VTEP, withBenchNode } from './node-fixture.js';

export interface CpSample {
  mode: string;
  size: number;
  programMs: number;
  changeMs: number;
  /** Changes the first reconcile applied. */
  changes: number;
  rssMB: number;
  peakRssMB: number;
  error?: string;
}

const PEERS = Array.from({ length: 32 }, (_, k) => `198.18.0.${100 + k}`);

const hex = (n: number) => n.toString(16).padStart(2, '0');
export function endpoint(i: number, node: string): EndpointIntent {
  const vtep = PEERS[i % PEERS.length]!;
  return {
    vm: `bench/vm${i}`, iface: 'default', mac: `52:55:${hex((i >> 24) & 255)}:${hex((i >> 16) & 255)}:${hex((i >> 8) & 255)}:${hex(i & 255)}`,
    ip: intToIp(ipToInt('10.0.0.0') + 16 + i), node: `peer-${vtep}`, vtep, local: false,
  };
}

/** `size` endpoints in address order (the order intents carry them in). */
export function scaleEndpoints(size: number, node: string): EndpointIntent[] {
  return Array.from({ length: size }, (_, i) => endpoint(i, node)).sort((a, b) => a.ip.localeCompare(b.ip));
}

export function scaleIntent(node: string, endpoints: EndpointIntent[]): NodeIntent {
  return {
    node,
    clusterNetworks: [{
      name: 'overlay', uplink: 'vxmu0', uplinkMtu: 1500, localVtep: NODE_VTEP, port: 4789, peers: [...PEERS].sort(),
      networks: [{ key: 'bench/scale', vni: 500, cidr: '10.0.0.0/8', prefixLen: 8, gateway: '10.0.0.1', gatewayMac: gatewayMac(500), natOutgoing: true, mtu: 1450, endpoints }],
    }],
  };
}

const mb = (bytes: number) => bytes / 1048576;

async function measure(mode: DataplaneMode, size: number, id: string): Promise<CpSample> {
  return withBenchNode(mode, id, 'c', async ({ node, dp }) => {
    const eps = scaleEndpoints(size, node);
    const intent = scaleIntent(node, eps);
    const t0 = performance.now();
    const r1 = await dp.reconcile(intent);
    const programMs = performance.now() - t0;
    const rssMB = mb(process.memoryUsage().rss);
    // One change at this size: endpoint 0 moves to another VTEP (a migration as seen from this node).
    const moved = eps.map((e) => (e.vm === 'bench/vm0' ? { ...e, vtep: PEERS[1]!, node: `peer-${PEERS[1]}` } : e));
    const t1 = performance.now();
    const r2 = await dp.reconcile(scaleIntent(node, moved));
    const changeMs = performance.now() - t1;
    const errs = [...r1.errors, ...r2.errors].map((e) => e.message);
    return {
      mode, size, programMs, changeMs, changes: r1.changes, rssMB, peakRssMB: process.resourceUsage().maxRSS / 1024,
      ...(errs.length ? { error: errs.slice(0, 3).join('; ') } : {}),
    };
  });
}

async function main(): Promise<void> {
  const arg = (name: string) => process.argv[process.argv.indexOf(name) + 1];
  const mode = arg('--mode') as DataplaneMode;
  const size = Number(arg('--size'));
  const id = arg('--id') ?? 'x';
  try {
    process.stdout.write(`${JSON.stringify(await measure(mode, size, id))}\n`);
  } catch (err) {
    const s: CpSample = { mode, size, programMs: NaN, changeMs: NaN, changes: 0, rssMB: NaN, peakRssMB: NaN, error: (err as Error).message.slice(0, 500) };
    process.stdout.write(`${JSON.stringify(s)}\n`);
  }
}

if (process.argv[1]?.endsWith('cp-worker.js')) await main();
