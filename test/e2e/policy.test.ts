/**
 * MultiNetworkPolicy end to end, once per dataplane mode, on the demo lab (tenant-a/blue: vm-a1 10.10.0.2
 * and vm-a3 10.10.0.4 on node1, vm-a2 10.10.0.3 on node2; external host 198.18.0.254 answering TCP 8080
 * with the address it saw). Policies go in with `lab apply` like every other object and the agents
 * enforce them; everything is checked with real traffic.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/util/exec.js';
import { find, parsePing, sleep, TestLab, type Doc } from '../helpers/lab.js';

const MODES = (process.env.E2E_MODES ?? 'kernel,bpf').split(',').filter(Boolean);
const A1 = '10.10.0.2';
const A2 = '10.10.0.3';

function policy(name: string, spec: Record<string, unknown>): Doc {
  return {
    apiVersion: 'k8s.cni.cncf.io/v1beta1',
    kind: 'MultiNetworkPolicy',
    metadata: { name, namespace: 'tenant-a', annotations: { 'k8s.v1.cni.cncf.io/policy-for': 'tenant-a/blue' } },
    spec,
  };
}
const web = { matchLabels: { role: 'web' } };
const denyAllIngress = policy('web-deny-all', { podSelector: web, policyTypes: ['Ingress'] });
const fromClients = policy('web-from-clients', {
  podSelector: web,
  ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }], ports: [{ protocol: 'TCP', port: 7 }] }],
});
const portRanges = policy('web-ports', {
  podSelector: web,
  ingress: [{ ports: [{ protocol: 'TCP', port: 7000, endPort: 7010 }, { protocol: 'UDP', port: 5000, endPort: 5005 }] }],
});
const egressTo = (except: string) => policy('web-egress', {
  podSelector: web,
  policyTypes: ['Egress'],
  egress: [{ to: [{ ipBlock: { cidr: '198.18.0.0/16', except: [except] } }], ports: [{ protocol: 'TCP', port: 8080 }] }],
});

describe.each(MODES)('traffic policies in %s mode', (mode) => {
  let lab: TestLab;
  const procs: ChildProcess[] = [];
  const base = () => lab.docs.filter((d) => d.kind !== 'MultiNetworkPolicy');

  /** `lab apply` with the base objects plus these policies; throws unless it succeeded. */
  async function applyPolicies(...policies: Doc[]): Promise<void> {
    const r = await lab.apply([...base(), ...policies]);
    if (r.exitCode !== 0) throw new Error(`lab apply failed: ${r.stdout}\n${r.stderr}`);
  }

  /** First line the TCP server at ip:port answers to `from` within 1.5 s, '-' when none. */
  async function tcp(from: string, ip: string, port: number): Promise<string> {
    const r = await lab.exec(from, ['socat', '-T', '1.5', 'STDIO', `TCP:${ip}:${port},connect-timeout=1.5`], { input: '' });
    return r.exitCode === 0 && r.stdout.trim() ? r.stdout.trim() : '-';
  }
  /** The UDP server's answer (up to 3 tries: a datagram may be lost), '-' when none. */
  async function udp(from: string, ip: string, port: number, tries = 3): Promise<string> {
    for (let i = 0; i < tries; i++) {
      const r = await lab.exec(from, ['socat', '-T', '1', 'STDIO', `UDP:${ip}:${port}`], { input: 'ping\n' });
      if (r.stdout.trim()) return r.stdout.trim();
    }
    return '-';
  }
  function serve(vm: string, argv: string[]): void {
    procs.push(spawn('ip', ['netns', 'exec', lab.netns(vm), ...argv], { stdio: 'ignore' }));
  }

  beforeAll(async () => {
    lab = new TestLab(mode);
    find(lab.docs, 'VirtualMachineInstance', 'vm-a1').metadata.labels = { role: 'web' };
    find(lab.docs, 'VirtualMachineInstance', 'vm-a2').metadata.labels = { role: 'client' };
    find(lab.docs, 'VirtualMachineInstance', 'vm-a3').metadata.labels = { role: 'other' };
    await lab.up();
    for (const p of [7005, 7011]) serve('vm-a1', ['socat', `TCP-LISTEN:${p},fork,reuseaddr`, `SYSTEM:echo tcp${p}`]);
    for (const p of [5003, 5006]) serve('vm-a1', ['socat', `UDP-RECVFROM:${p},fork`, `SYSTEM:echo udp${p}`]);
  }, 240_000);

  afterAll(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await lab?.down();
  });

  it('lets everything through while no policy selects a VM', async () => {
    expect(await tcp('vm-a3', A1, 7)).toBe('vm-a1');
    expect(await tcp('vm-a2', A1, 7)).toBe('vm-a1');
  });

  it('denies all ingress to a selected VM, while replies to its own connections pass', async () => {
    await applyPolicies(denyAllIngress);
    expect(await tcp('vm-a3', A1, 7)).toBe('-'); // same node
    expect(await tcp('vm-a2', A1, 7)).toBe('-'); // cross node
    expect(await lab.ping('vm-a2', A1)).toBe(false);
    // vm-a1's egress is open and the replies of its flows come back through its closed ingress.
    expect(await tcp('vm-a1', A2, 7)).toBe('vm-a2');
    expect(await lab.ping('vm-a1', '10.10.0.4')).toBe(true);
    expect(await tcp('vm-a1', '198.18.0.254', 8080)).toBe('198.18.0.11');
    // The node where vm-a1 runs counts the drops against the policy (vxmesh inspect: nft counters / vxm_pol_stats).
    const r = await lab.cli(['lab', 'inspect', lab.node(1), '--lab', lab.name]);
    expect(r.stdout).toMatch(/g\d+ ingress \[tenant-a\/web-deny-all\]: allowed \d+, denied [1-9]/);
  });

  it('allows only the selected VMs, cross node and same node, on the allowed port only', async () => {
    await applyPolicies(fromClients);
    expect(await tcp('vm-a2', A1, 7)).toBe('vm-a1'); // client, node2 -> node1
    expect(await tcp('vm-a3', A1, 7)).toBe('-'); // not a client, same node
    expect(await lab.ping('vm-a2', A1)).toBe(false); // ICMP is not TCP 7
    // Relabel vm-a3 as a client: the peer set follows the labels.
    const docs = base();
    find(docs, 'VirtualMachineInstance', 'vm-a3').metadata.labels = { role: 'client' };
    const r = await lab.apply([...docs, fromClients]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await tcp('vm-a3', A1, 7)).toBe('vm-a1'); // same node, now allowed
    find(docs, 'VirtualMachineInstance', 'vm-a3').metadata.labels = { role: 'other' };
    expect((await lab.apply([...docs, fromClients])).exitCode).toBe(0);
  });

  it('enforces TCP and UDP port ranges (port..endPort)', async () => {
    await applyPolicies(portRanges);
    expect(await tcp('vm-a2', A1, 7005)).toBe('tcp7005');
    expect(await tcp('vm-a2', A1, 7011)).toBe('-');
    expect(await tcp('vm-a3', A1, 7)).toBe('-');
    expect(await udp('vm-a2', A1, 5003)).toBe('udp5003'); // the reply passes vm-a2's side too
    expect(await udp('vm-a3', A1, 5006, 1)).toBe('-');
  });

  it('limits egress to an ipBlock with except, through the gateway NAT', async () => {
    await applyPolicies(egressTo('198.18.0.0/25'));
    expect(await tcp('vm-a1', '198.18.0.254', 8080)).toBe('198.18.0.11');
    expect(await tcp('vm-a1', A2, 7)).toBe('-'); // not in the block
    expect(await tcp('vm-a2', A1, 7)).toBe('vm-a1'); // ingress is not selected: open
    await applyPolicies(egressTo('198.18.0.128/25'));
    expect(await tcp('vm-a1', '198.18.0.254', 8080)).toBe('-');
  });

  it('lab status --matrix expects what the policies deny and names the policy, following a policy change', async () => {
    await applyPolicies(fromClients, egressTo('198.18.0.0/25'));
    const r = await lab.cli(['lab', 'status', '--matrix', '--lab', lab.name]);
    expect(r.exitCode, r.stdout).toBe(0); // every probe as expected, the denied ones included
    const denial = (from: string, to: string) => r.stdout.split('\n').find((l) => l.trim().startsWith(`${from} -> ${to}:`))?.trim();
    expect(denial('vm-a3', 'vm-a1')).toBe('vm-a3 -> vm-a1: denied by tenant-a/web-from-clients (ingress of tenant-a/vm-a1/nic1)');
    expect(denial('vm-a1', 'vm-a2')).toBe('vm-a1 -> vm-a2: denied by tenant-a/web-egress (egress of tenant-a/vm-a1/nic1)');
    expect(denial('vm-a1', 'gateway')).toBe('vm-a1 -> gateway: denied by tenant-a/web-egress (egress of tenant-a/vm-a1/nic1)');
    // Positive controls: what the policies allow is expected to answer, and did.
    expect(denial('vm-a2', 'vm-a1')).toBeUndefined();
    expect(denial('vm-a1', 'external')).toBeUndefined();
    expect(r.stdout).not.toContain('✗');
    // The egress block no longer holds the external host: the expectation follows the policy.
    await applyPolicies(fromClients, egressTo('198.18.0.128/25'));
    const after = await lab.cli(['lab', 'status', '--matrix', '--lab', lab.name]);
    expect(after.exitCode, after.stdout).toBe(0);
    expect(after.stdout).toContain('vm-a1 -> external: denied by tenant-a/web-egress (egress of tenant-a/vm-a1/nic1)');
  });

  it('rejects invalid policies naming object and field, and keeps the previous set in force', async () => {
    await applyPolicies(fromClients);
    const bad = policy('bad-cidr', { podSelector: web, ingress: [{ from: [{ ipBlock: { cidr: '10.10.0.0/33' } }] }] });
    const badRange = policy('bad-range', { podSelector: web, ingress: [{ ports: [{ protocol: 'UDP', port: 6000, endPort: 5000 }] }] });
    const r = await lab.apply([...base(), fromClients, bad, badRange]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('MultiNetworkPolicy tenant-a/bad-cidr: spec.ingress[0].from[0].ipBlock.cidr must be an IPv4 CIDR');
    expect(r.stderr).toContain('MultiNetworkPolicy tenant-a/bad-range: spec.ingress[0].ports[0].endPort 5000 is less than port 6000');
    expect(await tcp('vm-a3', A1, 7)).toBe('-');
    expect(await tcp('vm-a2', A1, 7)).toBe('vm-a1');
  });

  it.skipIf(mode !== 'kernel')('repairs a flushed policy chain, set or map by content within a resync (kernel mode)', async () => {
    await applyPolicies(fromClients);
    expect(await tcp('vm-a3', A1, 7)).toBe('-');
    const node = lab.node(1);
    const table = JSON.parse((await lab.exec(node, ['nft', '-j', 'list', 'table', 'bridge', 'vxmesh_policy'])).stdout).nftables as Array<Record<string, any>>;
    const chains = table.filter((x) => x.chain && /^g\d+$/.test(x.chain.name)).map((x) => x.chain.name as string);
    const sets = table.filter((x) => x.set && /^g\d+_(l4|any)$/.test(x.set.name)).map((x) => x.set.name as string);
    expect(chains.length).toBeGreaterThan(0);
    for (const c of chains) expect((await lab.exec(node, ['nft', 'flush', 'chain', 'bridge', 'vxmesh_policy', c])).exitCode).toBe(0);
    for (const x of sets) await lab.exec(node, ['nft', 'flush', 'set', 'bridge', 'vxmesh_policy', x]);
    await lab.exec(node, ['nft', 'flush', 'map', 'bridge', 'vxmesh_policy', 'ports']);
    await sleep(5000); // resync is 2 s in the lab
    expect(await tcp('vm-a3', A1, 7)).toBe('-'); // a flushed group chain would let it through
    expect(await tcp('vm-a2', A1, 7)).toBe('vm-a1'); // a flushed set would deny it
  });

  it('keeps a migrated VM guarded: denied probes sent across the move never get through', async () => {
    // vxm-a1 may only be reached by clients on TCP 7 and may not send anything itself (replies excepted).
    await applyPolicies(fromClients, policy('web-no-egress', { podSelector: web, policyTypes: ['Egress'] }));
    // Counted where they would arrive: echo requests seen by the receiver (a reply could be dropped on its
    // way back and hide a request that got through).
    const seen = (vm: string, from: string) =>
      lab.exec(vm, ['timeout', '13', 'tcpdump', '-i', 'eth0', '-n', '-q', '-l', `icmp[icmptype] == 8 and src host ${from}`], { timeoutMs: 20_000 })
        .then((r) => Number(/(\d+) packets? captured/.exec(r.stderr)?.[1] ?? NaN));
    const seenByA1 = seen('vm-a1', A2);
    const seenByA2 = seen('vm-a2', A1);
    await sleep(300);
    const probeIn = lab.exec('vm-a2', ['ping', '-i', '0.02', '-w', '12', '-q', A1], { timeoutMs: 20_000 });
    const probeOut = lab.exec('vm-a1', ['ping', '-i', '0.02', '-w', '12', '-q', A2], { timeoutMs: 20_000 });
    await sleep(500);
    const m = await lab.cli(['lab', 'migrate', 'vm-a1', '--to', lab.node(2), '--lab', lab.name]);
    expect(m.exitCode, m.stderr).toBe(0);
    for (const probe of [probeIn, probeOut]) {
      const stats = parsePing((await probe).stdout);
      expect(stats.transmitted).toBeGreaterThan(100);
      expect(stats.received).toBe(0);
    }
    expect(await seenByA1).toBe(0);
    expect(await seenByA2).toBe(0);
    expect(await tcp('vm-a2', A1, 7)).toBe('vm-a1'); // now same node, still allowed (and its replies pass)
    expect(await tcp('vm-a3', A1, 7)).toBe('-'); // now cross node, still denied
  });

  it('checks frames from a port the agent has not seen yet against the policy of the MAC they carry', async () => {
    // A new port on node1's bridge (as the bridge CNI plugs one before any agent pass) sending as vm-a1,
    // which is denied all egress: nothing may reach vm-a3 on node1 until and after the agent programs it.
    const ns = lab.netns('rogue');
    try {
      await run(['ip', 'netns', 'add', ns]);
      await run(['ip', 'link', 'add', 'eth0', 'address', '02:00:0a:00:01:01', 'netns', ns, 'type', 'veth', 'peer', 'name', 'vxmrogue0', 'netns', lab.netns(lab.node(1))]);
      await run(['ip', 'link', 'set', 'vxmrogue0', 'master', 'vxb100', 'up'], { netns: lab.netns(lab.node(1)) });
      await run(['ip', 'addr', 'add', `${A1}/24`, 'dev', 'eth0'], { netns: ns });
      await run(['ip', 'link', 'set', 'eth0', 'up'], { netns: ns });
      await run(['ip', 'neigh', 'replace', '10.10.0.4', 'lladdr', '02:00:0a:00:01:03', 'dev', 'eth0', 'nud', 'permanent'], { netns: ns });
      const seen = lab.exec('vm-a3', ['timeout', '3', 'tcpdump', '-i', 'eth0', '-n', '-q', '-l', `icmp and src host ${A1}`], { timeoutMs: 10_000 });
      await sleep(300);
      await run(['ping', '-i', '0.05', '-w', '2', '-q', '10.10.0.4'], { netns: ns, allowFailure: true });
      expect(Number(/(\d+) packets? captured/.exec((await seen).stderr)?.[1])).toBe(0);
    } finally {
      await run(['ip', 'netns', 'del', ns], { allowFailure: true });
    }
  });
});
