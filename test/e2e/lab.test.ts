/**
 * The demo lab end to end, once per dataplane mode: three nodes each running a real agent, two tenants with
 * the same CIDR, six VMs, an external host. Everything is checked the way a user would: real traffic,
 * who answered, what the external host saw, what `lab status --json` says.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/util/exec.js';
import { find, parsePing, sleep, TestLab, waitFor, withVm } from '../helpers/lab.js';

/** vxm_endpoints key of (VNI 100, vm-a2's MAC): u32 vni little-endian, 6 MAC bytes, 2 pad bytes. */
const A2_ENDPOINT_KEY = '64 00 00 00 02 00 0a 00 01 02 00 00';

async function endpointKeys(pinned: string): Promise<string[][]> {
  const r = await run(['bpftool', '-j', 'map', 'dump', 'pinned', pinned]);
  return (JSON.parse(r.stdout) as Array<{ key: string[] }>).map((e) => e.key.map((b) => b.replace(/^0x/, '')));
}

// Every end-to-end test runs in both modes; E2E_MODES=kernel (or bpf) narrows it while debugging.
/** "Within one resync": the lab's agents resync every 2 s (`--resync 2`), plus one pass to repair. */
const ONE_RESYNC_MS = 2000 + 1000;
const MODES = (process.env.E2E_MODES ?? 'kernel,bpf').split(',').filter(Boolean);

describe.each(MODES)('the demo lab in %s mode', (mode) => {
  let lab: TestLab;

  beforeAll(async () => {
    lab = new TestLab(mode);
    await lab.up();
  });

  afterAll(async () => {
    await lab?.down();
  });

  it('reports every node ready in the requested mode and every VM with its address (status --json)', async () => {
    const s = await lab.status();
    expect(s.lab).toBe(lab.name);
    expect(s.nodes.map((n) => [n.name, n.underlayIP, n.mode, n.agentReady])).toEqual([
      [lab.node(1), '198.18.0.11', mode, true],
      [lab.node(2), '198.18.0.12', mode, true],
      [lab.node(3), '198.18.0.13', mode, true],
    ]);
    expect(s.nodes[0]!.netns).toBe(lab.netns(lab.node(1)));
    const vms = Object.fromEntries(s.vms.map((v) => [v.name, v]));
    expect(Object.keys(vms).sort()).toEqual(['vm-a1', 'vm-a2', 'vm-a3', 'vm-b1', 'vm-b2', 'vm-b3']);
    expect(vms['vm-a1']).toMatchObject({ namespace: 'tenant-a', node: lab.node(1), netns: lab.netns('vm-a1') });
    expect(vms['vm-a1']!.interfaces).toEqual([{
      name: 'nic1', network: 'tenant-a/blue', mac: '02:00:0a:00:01:01', ip: '10.10.0.2',
      // what the guest holds: its allocation, by DHCP from the gateway
      guest: { addressing: 'dhcp', ip: '10.10.0.2/24', lease: expect.objectContaining({ ip: '10.10.0.2', router: '10.10.0.1', mtu: 1450, server: '10.10.0.1' }) },
    }]);
    // The same addresses in both tenants; the fixed-IP annotation is honoured.
    expect(vms['vm-b1']!.interfaces[0]!.ip).toBe('10.10.0.2');
    expect(vms['vm-b3']!.interfaces[0]!.ip).toBe('10.10.0.50');
  });

  it('carries ping and TCP between VMs on different nodes and on the same node', async () => {
    expect(await lab.ping('vm-a1', '10.10.0.3')).toBe(true); // a1 (n1) -> a2 (n2)
    expect(await lab.ping('vm-a1', '10.10.0.4')).toBe(true); // a1 (n1) -> a3 (n1)
    expect(await lab.whoAnswers('vm-a1', '10.10.0.3')).toBe('vm-a2');
    expect(await lab.whoAnswers('vm-a2', '10.10.0.4')).toBe('vm-a3');
    expect(await lab.whoAnswers('vm-a3', '10.10.0.2')).toBe('vm-a1');
    expect(await lab.whoAnswers('vm-b2', '10.10.0.50')).toBe('vm-b3'); // same node (n3)
    expect(await lab.ping('vm-a2', '10.10.0.1')).toBe(true); // the distributed gateway
  });

  it('keeps overlapping tenants apart: the same IP reaches the VM of the same network only', async () => {
    // 10.10.0.2 and 10.10.0.3 exist in both tenants.
    expect(await lab.whoAnswers('vm-a2', '10.10.0.2')).toBe('vm-a1');
    expect(await lab.whoAnswers('vm-b2', '10.10.0.2')).toBe('vm-b1');
    expect(await lab.whoAnswers('vm-b1', '10.10.0.3')).toBe('vm-b2');
    expect(await lab.whoAnswers('vm-a1', '10.10.0.3')).toBe('vm-a2');
    // Addresses that exist only in the other tenant are unreachable.
    expect(await lab.whoAnswers('vm-a1', '10.10.0.50')).toBe('-');
    expect(await lab.whoAnswers('vm-b1', '10.10.0.4')).toBe('-');
  });

  it("NATs egress: the external host sees the VM's node underlay address", async () => {
    expect(await lab.whoAnswers('vm-a1', '198.18.0.254', 8080)).toBe('198.18.0.11');
    expect(await lab.whoAnswers('vm-a2', '198.18.0.254', 8080)).toBe('198.18.0.12');
    expect(await lab.whoAnswers('vm-b2', '198.18.0.254', 8080)).toBe('198.18.0.13');
  });

  it('sends no ARP over the underlay for a known VM', async () => {
    await lab.exec('vm-a1', ['ip', 'neigh', 'flush', 'all']);
    const cap = lab.exec('ul', ['timeout', '4', 'tcpdump', '-l', '-n', '-i', 'vxmsw0', 'udp', 'port', '4789'], { timeoutMs: 10_000 });
    await sleep(800);
    expect(await lab.ping('vm-a1', '10.10.0.3', 3)).toBe(true);
    const out = (await cap).stdout;
    expect(out).toMatch(/ICMP echo request/); // the capture saw the overlay traffic …
    expect(out).not.toMatch(/ARP/); // … and no ARP inside it
  });

  it('repairs drift within one resync (a gateway leg deleted by hand comes back)', async () => {
    await lab.exec(lab.node(2), ['ip', 'link', 'del', 'vxg100']);
    const ms = await waitFor('vxg100 back on node 2', async () => (await lab.exec(lab.node(2), ['ip', 'link', 'show', 'vxg100'])).exitCode === 0, ONE_RESYNC_MS);
    console.log(`[${mode}] gateway leg repaired after ${ms} ms`);
    await waitFor('gateway reachable again', () => lab.ping('vm-a2', '10.10.0.1'), 5000);
  });

  it('repairs drift within one resync (a forwarding entry for a remote VM deleted by hand comes back)', async () => {
    // kernel: the FDB entry of vm-a2's MAC on node 1; bpf: vm-a2's entry in node 1's endpoint map.
    const node = lab.node(1);
    const pinned = `/run/vxmesh/${lab.name}/${node}/bpffs/vxmesh/vxm_endpoints`;
    const entry = mode === 'kernel'
      ? async () => /02:00:0a:00:01:02 dst 198\.18\.0\.12 self permanent/.test((await lab.exec(node, ['bridge', 'fdb', 'show', 'dev', 'vxl100'])).stdout)
      : async () => (await endpointKeys(pinned)).some((k) => k.join(' ') === A2_ENDPOINT_KEY);
    expect(await entry()).toBe(true);
    if (mode === 'kernel') await lab.exec(node, ['bridge', 'fdb', 'del', '02:00:0a:00:01:02', 'dev', 'vxl100', 'dst', '198.18.0.12', 'self']);
    else await run(['bpftool', 'map', 'delete', 'pinned', pinned, 'key', 'hex', ...A2_ENDPOINT_KEY.split(' ')]);
    expect(await entry()).toBe(false);
    const ms = await waitFor('the entry back', entry, ONE_RESYNC_MS);
    console.log(`[${mode}] forwarding entry repaired after ${ms} ms`);
    expect(await lab.whoAnswers('vm-a1', '10.10.0.3')).toBe('vm-a2');
  });

  it('keeps traffic flowing across an agent restart', async () => {
    const ping = lab.exec('vm-a1', ['ping', '-i', '0.01', '-c', '400', '-q', '10.10.0.3'], { timeoutMs: 30_000 });
    await sleep(500);
    const r = await lab.cli(['lab', 'restart', lab.node(1), '--lab', lab.name]);
    expect(r.exitCode, r.stderr).toBe(0);
    const stats = parsePing((await ping).stdout);
    console.log(`[${mode}] agent restart: ${stats.lost} of ${stats.transmitted} pings lost`);
    expect(stats.lost).toBe(0); // README: 0 lost pings at 10 ms across a restart, both modes
  });

  it('live-migrates a VM with a bounded loss and the VM keeps its address', async () => {
    const ping = lab.exec('vm-b1', ['ping', '-i', '0.01', '-c', '600', '-q', '10.10.0.3'], { timeoutMs: 30_000 });
    await sleep(800);
    const r = await lab.cli(['lab', 'migrate', 'vm-b2', '--to', lab.node(2), '--lab', lab.name]);
    expect(r.exitCode, r.stderr).toBe(0);
    const stats = parsePing((await ping).stdout);
    console.log(`[${mode}] migration: ${stats.lost} of ${stats.transmitted} pings lost (${stats.lost * 10} ms at 10 ms/ping); ${r.stdout.trim()}`);
    expect(stats.lost).toBeLessThan(100);
    const s = await lab.status();
    expect(s.vms.find((v) => v.name === 'vm-b2')).toMatchObject({ node: lab.node(2), interfaces: [{ ip: '10.10.0.3', mac: '02:00:0b:00:01:02' }] });
    expect(await lab.whoAnswers('vm-b3', '10.10.0.3')).toBe('vm-b2');
    expect(await lab.ping('vm-b2', '10.10.0.1')).toBe(true); // same gateway IP and MAC on the new node
    expect(await lab.whoAnswers('vm-b2', '198.18.0.254', 8080)).toBe('198.18.0.12'); // NAT now from node 2
  });

  it('adds and removes VMs with lab apply, keeping the addresses of the others', async () => {
    const r = await lab.apply(withVm(lab.docs, 'vm-a3', { name: 'vm-a4', mac: '02:00:0a:00:01:04', node: lab.node(3) }));
    expect(r.exitCode, r.stderr).toBe(0);
    const vm = (await lab.status()).vms.find((v) => v.name === 'vm-a4');
    expect(vm?.interfaces[0]?.ip).toBe('10.10.0.5'); // the lowest free address
    expect(await lab.whoAnswers('vm-a1', '10.10.0.5')).toBe('vm-a4');
    const back = await lab.apply(lab.docs);
    expect(back.exitCode, back.stderr).toBe(0);
    const after = await lab.status();
    expect(after.vms.map((v) => v.name)).not.toContain('vm-a4');
    expect(after.vms.find((v) => v.name === 'vm-b2')?.node).toBe(lab.node(2)); // apply does not undo a migration
    expect(await lab.whoAnswers('vm-a1', '10.10.0.5')).toBe('-');
  });

  describe('rejects bad input with an error naming the edited object and field, and traffic keeps flowing', () => {
    const cases: Array<[string, (docs: any[]) => any[] | string, RegExp]> = [
      ['a duplicate VNI', (d) => (find(d, 'VxlanNetwork', 'red').spec.vni = 100, d), /VxlanNetwork tenant-b\/red: spec\.vni 100 is already in use/],
      ['a duplicate VNI (the edited network sorts first)', (d) => (find(d, 'VxlanNetwork', 'blue').spec.vni = 200, d), /VxlanNetwork tenant-a\/blue: spec\.vni 200 is already in use/],
      ['a duplicate MAC (the edited VM sorts first)', (d) => (find(d, 'VirtualMachineInstance', 'vm-a1').spec.domain.devices.interfaces[0].macAddress = '02:00:0a:00:01:02', d), /VirtualMachineInstance tenant-a\/vm-a1: spec\.domain\.devices\.interfaces\[nic1\]\.macAddress 02:00:0a:00:01:02 is already in use/],
      ['a gateway outside the CIDR', (d) => (find(d, 'VxlanNetwork', 'blue').spec.gateway = '10.20.0.1', d), /VxlanNetwork tenant-a\/blue: spec\.gateway 10\.20\.0\.1 is not inside/],
      ['a duplicate MAC', (d) => (find(d, 'VirtualMachineInstance', 'vm-a2').spec.domain.devices.interfaces[0].macAddress = '02:00:0a:00:01:01', d), /VirtualMachineInstance tenant-a\/vm-a2: spec\.domain\.devices\.interfaces\[nic1\]\.macAddress 02:00:0a:00:01:01 is already in use/],
      ['a duplicate fixed IP', (d) => (find(d, 'VirtualMachineInstance', 'vm-b1').metadata.annotations = { 'network.vxmesh.io/ip-address': '10.10.0.50' }, d), /VirtualMachineInstance tenant-b\/vm-b1: metadata\.annotations\["network\.vxmesh\.io\/ip-address"\] 10\.10\.0\.50 is already requested/],
      ['an unknown network', (d) => (find(d, 'VirtualMachineInstance', 'vm-a2').spec.networks[0].multus.networkName = 'tenant-a/green', d), /VirtualMachineInstance tenant-a\/vm-a2: spec\.networks\[0\]\.multus\.networkName tenant-a\/green: no such VxlanNetwork/],
      ['a VNI out of range', (d) => (find(d, 'VxlanNetwork', 'blue').spec.vni = 16777216, d), /VxlanNetwork tenant-a\/blue: spec\.vni not in 1\.\.16777215/],
      ['malformed YAML', () => 'apiVersion: v1\nkind: [unclosed\n', /malformed YAML/],
    ];
    it.each(cases)('%s', async (_what, mutate, message) => {
      const bad = mutate(structuredClone(lab.docs));
      const r = await lab.apply(typeof bad === 'string' ? bad : bad);
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/nothing was changed/);
      expect(await lab.whoAnswers('vm-a1', '10.10.0.3')).toBe('vm-a2');
      expect(await lab.whoAnswers('vm-b1', '10.10.0.3')).toBe('vm-b2');
    });
  });

  it('reports an invalid object written straight into the state and keeps serving its last good version', async () => {
    const dir = `/run/vxmesh/${lab.name}/state`;
    const orig = (await run(['cat', `${dir}/cluster.yaml`])).stdout;
    try {
      await run(['sh', '-c', `sed 's/vni: 100/vni: 0/' ${dir}/cluster.yaml > ${dir}/.x && mv ${dir}/.x ${dir}/cluster.yaml`]);
      await run(['sh', '-c', `printf 'kind: [broken\\n' > ${dir}/broken.yaml`]);
      const log = `/run/vxmesh/${lab.name}/logs/${lab.node(1)}.log`;
      await waitFor('the agent to report both', async () => {
        const text = (await run(['cat', log])).stdout;
        return /VxlanNetwork tenant-a\/blue: spec\.vni/.test(text) && /malformed YAML/.test(text);
      }, 8000);
      await sleep(2500); // a resync with the bad input in place
      expect(await lab.whoAnswers('vm-a1', '10.10.0.3')).toBe('vm-a2');
      expect((await lab.status()).nodes.every((n) => n.agentReady)).toBe(true);
    } finally {
      await run(['rm', '-f', `${dir}/broken.yaml`]);
      await run(['sh', '-c', `cat > ${dir}/.x && mv ${dir}/.x ${dir}/cluster.yaml`], { input: orig });
    }
  });

  it('lab exec runs a command in a VM and returns its exit status', async () => {
    const ok = await lab.cli(['lab', 'exec', 'vm-a1', '--lab', lab.name, '--', 'ip', '-br', 'addr', 'show', 'eth0']);
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toMatch(/10\.10\.0\.2\/24/);
    const bad = await lab.cli(['lab', 'exec', 'vm-a1', '--lab', lab.name, '--', 'false']);
    expect(bad.exitCode).toBe(1);
  });

  it('lab down removes everything it created, and running it again is harmless', async () => {
    expect((await lab.down()).exitCode).toBe(0);
    const ns = (await run(['ip', 'netns', 'list'])).stdout;
    expect(ns).not.toMatch(new RegExp(`vxm-${lab.name}-|vxmr-${lab.name}n`));
    expect((await run(['cat', '/proc/mounts'])).stdout).not.toMatch(new RegExp(`/run/vxmesh/${lab.name}`));
    expect((await run(['test', '-e', `/run/vxmesh/${lab.name}`], { allowFailure: true })).exitCode).not.toBe(0);
    expect((await lab.down()).exitCode).toBe(0);
  });
});
