import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import type { NodeIntent } from '../../src/intent/types.js';
import { desiredMaps, diffMaps } from '../../src/dataplane/bpf/desired.js';
import { ensurePrograms, openPinnedProgram } from '../../src/dataplane/bpf/loader.js';
import { PinnedMaps } from '../../src/dataplane/bpf/maps.js';
import { planShares, reconcileShares, shareUse, shareVnis } from '../../src/dataplane/bpf/ct-shares.js';
import * as bpf from '../../src/dataplane/bpf/libbpf.js';
import { eth, ipv4 } from '../helpers/bpf-frames.js';
import { mountBpffs, unmountBpffs } from '../helpers/bpffs.js';

const A = { mac: '02:00:00:00:00:0a', ip: '10.0.0.10' }; // local VM on "lo" (ifindex 1), ingress denied
const B = { mac: '02:00:00:00:00:0b', ip: '10.0.0.11' }; // remote
const network = (vni: number, policy: boolean): NodeIntent['clusterNetworks'][0]['networks'][0] => ({
  key: `default/n${vni}`, vni, cidr: '10.0.0.0/24', prefixLen: 24, gateway: '10.0.0.1', gatewayMac: '02:76:6d:00:00:64', natOutgoing: false, mtu: 1450,
  endpoints: [
    { vm: 'default/a', iface: 'nic', mac: A.mac, ip: A.ip, node: 'n1', vtep: '198.18.0.1', local: true },
    { vm: 'default/b', iface: 'nic', mac: B.mac, ip: B.ip, node: 'n2', vtep: '198.18.0.2', local: false },
  ],
  ...(policy ? { policy: {
    endpoints: [{ vm: 'default/a', iface: 'nic', mac: A.mac, ip: A.ip, local: true, ingress: vni }],
    groups: [{ id: vni, direction: 'ingress' as const, vni, policies: ['default/deny'], rules: [] }],
  } } : {}),
});
const intentWith = (nets: ReturnType<typeof network>[]): NodeIntent => ({
  node: 'n1',
  clusterNetworks: [{ name: 'overlay', uplink: 'vxmu0', uplinkMtu: 1500, localVtep: '198.18.0.1', port: 4789, peers: ['198.18.0.2'], networks: nets }],
});

let bpffs: string | undefined;
let maps: PinnedMaps;
let vmFd = -1;
let hash = 0n;

beforeAll(async () => {
  bpffs = await mountBpffs();
  const pinDir = path.join(bpffs, 'vxmesh');
  hash = ensurePrograms(pinDir).hash;
  maps = PinnedMaps.open(pinDir);
  vmFd = openPinnedProgram(pinDir, 'fromVm');
});

afterAll(async () => {
  bpf.closeFd(vmFd);
  maps?.close();
  await unmountBpffs(bpffs);
});

function program(intent: NodeIntent) {
  const env = { ifindex: { lo: 1, vxe0: 999, vxb100: 998, vxb200: 997 }, vmPorts: { 100: [{ name: 'lo', ifindex: 1, vni: 100, binding: { vm: 'default/a', iface: 'nic' } }] }, objectHash: hash };
  const r = reconcileShares(maps.fd('vxm_ct'), intent);
  maps.apply(diffMaps(maps.readState(), desiredMaps(intent, env).state));
  return r;
}

describe('flow-table shares (one bounded LRU per network)', () => {
  it('plans shares for the networks with a policy only', () => {
    expect(shareVnis(intentWith([network(100, true), network(200, false), network(300, true)]))).toEqual([100, 300]);
    expect(planShares([100, 200], [100, 300])).toEqual({ create: [300], remove: [200] });
  });

  it('creates a share per policy network, records a selected VM\'s flows in its own network\'s share, removes it with the policy', () => {
    expect(program(intentWith([network(100, true), network(200, true)]))).toEqual({ changes: 2, errors: [] });
    expect(shareUse(maps.fd('vxm_ct')).map((s) => [s.vni, s.flows, s.size])).toEqual([[100, 0, 16384], [200, 0, 16384]]);
    // a1 (egress open) to b: allowed, and recorded so that b's replies pass a1's closed ingress
    const r = bpf.testRun(vmFd, eth(B.mac, A.mac, 0x0800, ipv4(A.ip, B.ip)));
    expect(r.retval).toBe(7); // TC_ACT_REDIRECT into the tunnel
    expect(shareUse(maps.fd('vxm_ct')).map((s) => [s.vni, s.flows])).toEqual([[100, 1], [200, 0]]);
    expect(program(intentWith([network(100, true), network(200, false)]))).toEqual({ changes: 1, errors: [] });
    expect(shareUse(maps.fd('vxm_ct')).map((s) => s.vni)).toEqual([100]);
    expect(program(intentWith([network(100, true), network(200, false)])).changes).toBe(0);
  });
});
