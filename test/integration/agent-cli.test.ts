/**
 * The agent's one-shot commands as the README documents them, run as real processes inside a node
 * namespace: `--once` (exit 0 and a programmed node; non-zero naming what failed), `--cleanup` (nothing
 * vxmesh created is left), `--mode bpf` failing with its reason, `--mode auto` falling back with its warn
 * line, and the uplink: the single nic used as it is, a two-nic uplink on this kernel (no bonding) refused
 * with VtepReady=False BondingUnavailable and the nics untouched.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/util/exec.js';
import { addHost, createUnderlay, destroyNamespaces, nsName } from '../../src/lab/topology.js';
import { readLabInput, objectsToYaml } from '../../src/lab/input.js';
import { CLI, exampleDocs, toYaml } from '../helpers/lab.js';
import { mountBpffs, unmountBpffs } from '../helpers/bpffs.js';

const id = randomBytes(2).toString('hex');
const prefix = `vxm-ac${id}`;
const lab = `ac${id}`;
const node = `${lab}n1`;
const ns = nsName(prefix, 'n1');

const DHCP_DIR = process.env.VXMESH_DHCP_DIR ?? '/run/vxmesh-dhcp';
/** A policy selecting vm-a1 (role web), so the agent has a last good policy to keep in its --state-dir. */
const POLICY = {
  apiVersion: 'k8s.cni.cncf.io/v1beta1', kind: 'MultiNetworkPolicy',
  metadata: { name: 'web', namespace: 'tenant-a', annotations: { 'k8s.v1.cni.cncf.io/policy-for': 'blue' } },
  spec: { podSelector: { matchLabels: { role: 'web' } }, ingress: [{ ports: [{ protocol: 'TCP', port: 7 }] }] },
};

/** The demo lab's objects (node names `<lab>nN`) and a policy, optionally with another uplink nic list. */
function stateDir(nics?: string[]): string {
  const docs = [...exampleDocs(lab, 'kernel'), POLICY];
  if (nics) for (const d of docs) if (d.kind === 'VxlanConfig') d.spec.uplink.nics = nics;
  const { input, errors } = readLabInput(toYaml(docs), 'lab.yaml');
  expect(errors).toEqual([]);
  const dir = mkdtempSync(path.join(tmpdir(), 'vxm-agentcli-'));
  writeFileSync(path.join(dir, 'cluster.yaml'), objectsToYaml(input!.objects));
  return dir;
}

/** The agents' --state-dir (the last good policies), the test's own, never the host's /var/lib/vxmesh. */
const agentState = mkdtempSync(path.join(tmpdir(), 'vxm-agentcli-state-'));

function agent(args: string[], env: Record<string, string> = {}) {
  return run(['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), process.execPath, CLI, 'agent', '--node', node, '--state-dir', agentState, ...args], { netns: ns, allowFailure: true, timeoutMs: 120_000 });
}

/** The node's nft tables (both modes create some: NAT, anti-spoofing, DHCP filter, …). */
const nftTables = async () => (await run(['nft', 'list', 'tables'], { netns: ns })).stdout.trim().split('\n').filter(Boolean).sort();
/** This node's DHCP servers: their directories and whether each one's dnsmasq runs. */
const dhcpServers = () => (existsSync(DHCP_DIR) ? readdirSync(DHCP_DIR).filter((d) => d.startsWith(`${node}-`)).sort() : [])
  .map((d) => {
    const pidFile = path.join(DHCP_DIR, d, 'pid');
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8').trim()) : 0;
    return `${d}: ${pid > 0 && isAlive(pid) ? 'running' : 'stopped'}`;
  });
/** A running process (a killed daemon reparented to a PID 1 that does not reap it stays a zombie: no cmdline). */
const isAlive = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`).length > 0;
  } catch {
    return false;
  }
};
const links = async () => (JSON.parse((await run(['ip', '-j', 'link', 'show'], { netns: ns })).stdout) as Array<{ ifname: string }>).map((l) => l.ifname).sort();
const routerNamespaces = async () => (await run(['ip', 'netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`vxmr-${node}-`)).sort();
const nicState = async (nic: string) => {
  const [l] = JSON.parse((await run(['ip', '-j', 'addr', 'show', 'dev', nic], { netns: ns })).stdout) as Array<Record<string, unknown>>;
  return { mtu: l!.mtu, flags: l!.flags, master: l!.master, addrs: (l!.addr_info as Array<{ local: string }>).map((a) => a.local) };
};
const statusOf = (dir: string) => YAML.parse(readFileSync(path.join(dir, 'status', `overlay.${node}.yaml`), 'utf8')) as { status: { vtepIP?: string; ready: boolean; mode: string; conditions: Array<{ type: string; status: string; reason: string; message: string }> } };
const cond = (dir: string, type: string) => statusOf(dir).status.conditions.find((c) => c.type === type);

describe('vxmesh agent --once, --cleanup, --mode (real processes in a node namespace)', () => {
  const dirs: string[] = [];
  let bpffs: string | undefined;

  beforeAll(async () => {
    await createUnderlay(prefix);
    await addHost(prefix, 'n1', '198.18.0.11/24');
    // A second and third nic for the two-nic uplink (a veth pair inside the node).
    await run(['ip', 'link', 'add', 'vxmu1', 'type', 'veth', 'peer', 'name', 'vxmu2'], { netns: ns });
    bpffs = await mountBpffs();
  });
  afterAll(async () => {
    await destroyNamespaces([prefix, `vxmr-${node}`]);
    await unmountBpffs(bpffs);
    for (const d of [...dirs, agentState]) rmSync(d, { recursive: true, force: true });
  });

  it('--once --mode kernel programs the node, uses the single nic as it is (VTEP from it, untouched), exits 0; --cleanup removes it all', async () => {
    const dir = stateDir();
    dirs.push(dir);
    const stored = path.join(agentState, node, 'policies.json');
    const nicBefore = await nicState('vxmu0');
    const r = await agent(['--source', `file:${dir}`, '--mode', 'kernel', '--once']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await links()).toEqual(expect.arrayContaining(['vxb100', 'vxb200', 'vxl100', 'vxl200']));
    expect(await routerNamespaces()).toEqual([`vxmr-${node}-100`, `vxmr-${node}-200`]);
    expect(statusOf(dir).status).toMatchObject({ vtepIP: '198.18.0.11', ready: true, mode: 'kernel' });
    expect(cond(dir, 'VtepReady')).toMatchObject({ status: 'True', reason: 'UplinkAddress', message: 'VTEP 198.18.0.11 (kernel dataplane)' });
    expect(await nicState('vxmu0')).toEqual(nicBefore); // vxmesh changes nothing on a nic it does not own
    // What --cleanup must remove is there: nft tables, a running DHCP server per network, the last good policy.
    expect(await nftTables()).toEqual(expect.arrayContaining(['table bridge vxmesh_antispoof', 'table bridge vxmesh_policy', 'table inet vxmesh', 'table inet vxmesh_vtep']));
    expect(dhcpServers()).toEqual([`${node}-100: running`, `${node}-200: running`]);
    expect(Object.keys((JSON.parse(readFileSync(stored, 'utf8')) as { policies: object }).policies)).toEqual(['MultiNetworkPolicy/tenant-a/web']);
    const pids = ['100', '200'].map((v) => Number(readFileSync(path.join(DHCP_DIR, `${node}-${v}`, 'pid'), 'utf8').trim()));

    const c = await agent(['--mode', 'kernel', '--cleanup']);
    expect(c.exitCode, c.stderr).toBe(0);
    expect((await links()).filter((l) => /^vx[blge]\d|^vxg|^vxo/.test(l))).toEqual([]);
    expect(await routerNamespaces()).toEqual([]);
    expect(await nftTables()).toEqual([]);
    expect(dhcpServers()).toEqual([]);
    expect(pids.filter(isAlive)).toEqual([]);
    expect(existsSync(stored)).toBe(false);
    expect(await nicState('vxmu0')).toEqual(nicBefore); // --cleanup leaves the uplink
  });

  it('--once --mode bpf pins programs and maps under --bpffs and creates vxe0; --cleanup removes pins, devices and namespaces', async () => {
    const dir = stateDir();
    dirs.push(dir);
    const r = await agent(['--source', `file:${dir}`, '--mode', 'bpf', '--bpffs', bpffs!, '--once']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await links()).toEqual(expect.arrayContaining(['vxb100', 'vxb200', 'vxe0']));
    expect(await links()).not.toContain('vxl100');
    expect(readdirSync(path.join(bpffs!, 'vxmesh'))).toEqual(expect.arrayContaining(['prog_from_vm', 'vxm_endpoints']));
    expect(statusOf(dir).status).toMatchObject({ ready: true, mode: 'bpf' });

    expect((await run(['tc', 'filter', 'show', 'dev', 'vxe0', 'ingress'], { netns: ns })).stdout).toContain('vxm_from_tunnel');
    expect(await nftTables()).toEqual(expect.arrayContaining(['table bridge vxmesh_antispoof', 'table inet vxmesh']));
    expect(dhcpServers()).toEqual([`${node}-100: running`, `${node}-200: running`]);

    const c = await agent(['--mode', 'bpf', '--bpffs', bpffs!, '--cleanup']);
    expect(c.exitCode, c.stderr).toBe(0);
    expect((await links()).filter((l) => /^vx[blge]\d|^vxg|^vxo/.test(l))).toEqual([]);
    expect(existsSync(path.join(bpffs!, 'vxmesh'))).toBe(false);
    expect(await routerNamespaces()).toEqual([]);
    expect(await nftTables()).toEqual([]);
    expect(dhcpServers()).toEqual([]);
  });

  it.each([
    { why: 'the objects are missing', env: { VXMESH_BPF_DIR: '/nonexistent-vxmesh-objects' } as Record<string, string>, reason: 'BPF object /nonexistent-vxmesh-objects/vxm_from_vm.bpf.o missing (run build/build-bpf.sh)' },
    // a kernel or verifier that refuses the programs, on a node not running bpf yet (nothing to keep)
    { why: 'the probe fails on every attempt', env: { VXMESH_TEST_FAIL_BPF_PROBE: '99' } as Record<string, string>, reason: 'probe failed by the test hook VXMESH_TEST_FAIL_BPF_PROBE (1 of 99)' },
  ])('--mode bpf fails with the reason when bpf cannot run ($why); --mode auto falls back to kernel with a warn line giving it', async ({ env, reason }) => {
    const dir = stateDir();
    dirs.push(dir);
    const args = ['--source', `file:${dir}`, '--bpffs', bpffs!, '--once'];
    const bpf = await agent(['--mode', 'bpf', ...args], env);
    expect(bpf.exitCode).not.toBe(0);
    expect(bpf.stderr).toContain(`--mode bpf: the bpf dataplane cannot run here: ${reason}`);
    expect(await links()).not.toContain('vxb100'); // it failed before touching the node
    expect(existsSync(path.join(bpffs!, 'vxmesh'))).toBe(false);

    const auto = await agent(['--mode', 'auto', ...args], env);
    expect(auto.exitCode, auto.stderr).toBe(0);
    const line = auto.stderr.split('\n').filter((l) => l.includes('auto mode: bpf unavailable, using kernel dataplane')).map((l) => JSON.parse(l) as Record<string, unknown>)[0];
    expect(line).toMatchObject({ level: 40, mode: 'kernel', reason });
    expect(statusOf(dir).status.mode).toBe('kernel');
    expect(cond(dir, 'DataplaneMode')).toMatchObject({ status: 'False', reason: 'FellBackToKernel', message: `auto mode fell back to the kernel dataplane: ${reason}` });
    expect(await links()).toEqual(expect.arrayContaining(['vxb100', 'vxl100'])); // the kernel dataplane programmed the node
    expect((await agent(['--mode', 'kernel', '--cleanup'])).exitCode).toBe(0);
  });

  it('a two-nic uplink on a kernel without bonding: --once exits non-zero, VtepReady=False BondingUnavailable, no bond, the nics untouched', async () => {
    const dir = stateDir(['vxmu1', 'vxmu2']);
    dirs.push(dir);
    const before = [await nicState('vxmu1'), await nicState('vxmu2')];
    const r = await agent(['--source', `file:${dir}`, '--mode', 'kernel', '--once']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/vxmesh agent: overlay: uplink vxmu1,vxmu2 needs bond overlay-bo, but this node cannot bond: \/sys\/class\/net\/bonding_masters missing and modprobe bonding failed/);
    expect(cond(dir, 'VtepReady')).toMatchObject({ status: 'False', reason: 'BondingUnavailable' });
    expect(await links()).not.toContain('overlay-bo');
    expect([await nicState('vxmu1'), await nicState('vxmu2')]).toEqual(before);
    expect((await agent(['--mode', 'kernel', '--cleanup'])).exitCode).toBe(0);
  });

  it('--once exits non-zero naming the problem when the uplink has no address', async () => {
    const dir = stateDir(['vxmu1']);
    dirs.push(dir);
    const r = await agent(['--source', `file:${dir}`, '--mode', 'kernel', '--once']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('vxmesh agent: overlay: uplink vxmu1 has no global IPv4 address');
    expect(cond(dir, 'VtepReady')).toMatchObject({ status: 'False', reason: 'NoVtepAddress', message: 'uplink vxmu1 has no global IPv4 address' });
    expect(await links()).not.toContain('vxb100'); // no VTEP: the node is no member, nothing is created
  });
});
