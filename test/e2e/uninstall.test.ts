/**
 * Uninstall leaves nothing and needs no reboot (README "Install on Harvester" › Uninstall), on the demo lab
 * with the Kubernetes source in bpf mode: traffic first (the positive control), then the README's steps —
 * (1) the VMs and VxlanNetworks go (`lab apply` without them: the VMs' ports unplugged by CNI DEL, the
 * VMIs deleted, the networks once the controller has released their addresses), (2) the release goes:
 * the real helm takes the lab's objects into a release and `helm uninstall` removes it, and the agents and
 * the controller stop as their pods would (SIGTERM: the dataplane stays, on purpose), (3) `vxmesh agent
 * --cleanup` on every node, (4) the CRDs deleted. Then no node has a vxmesh device, nft table, router
 * namespace, TC program, pin, DHCP server or stored state, the uplink is as it was, and the API server
 * holds no vxmesh object. Each "nothing left" stands next to a check that the same thing was there before.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHART_DIR, helm } from '../../src/deploy/chart.js';
import { isAlive } from '../../src/lab/processes.js';
import { labPaths, readLabState, type LabState } from '../../src/lab/state.js';
import { run } from '../../src/util/exec.js';
import { TestLab } from '../helpers/lab.js';

const DHCP_DIR = process.env.VXMESH_DHCP_DIR ?? '/run/vxmesh-dhcp';
const REPO = path.resolve(import.meta.dirname, '../..');

/** What vxmesh may have left on one node: everything a user would look for with ip, nft, tc and ls. */
interface NodeLeftovers {
  links: string[];
  nftTables: string[];
  routerNamespaces: string[];
  tcPrograms: string[];
  pins: string[];
  dhcpServers: string[];
}

async function leftovers(node: LabState['nodes'][number]): Promise<NodeLeftovers> {
  const ns = node.netns;
  const links = (await run(['ip', '-n', ns, '-o', 'link', 'show'])).stdout.split('\n')
    .map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1]).filter((n): n is string => !!n && n !== 'lo' && n !== node.uplink);
  const nftTables = (await run(['ip', 'netns', 'exec', ns, 'nft', 'list', 'tables'])).stdout.split('\n').filter((l) => l.trim());
  const routerNamespaces = (await run(['ip', 'netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`vxmr-${node.name}-`));
  const tcPrograms: string[] = [];
  for (const dev of [node.uplink, ...links]) {
    for (const dir of ['ingress', 'egress']) {
      const r = await run(['tc', '-n', ns, 'filter', 'show', 'dev', dev, dir], { allowFailure: true });
      if (r.stdout.includes('bpf')) tcPrograms.push(`${dev} ${dir}`);
    }
  }
  const pinDir = path.join(node.bpffs, 'vxmesh');
  const pins = existsSync(pinDir) ? readdirSync(pinDir) : [];
  const dhcpServers = existsSync(DHCP_DIR) ? readdirSync(DHCP_DIR).filter((d) => d.startsWith(`${node.name}-`)) : [];
  return { links, nftTables, routerNamespaces, tcPrograms, pins, dhcpServers };
}

describe('uninstall (Kubernetes source, bpf mode)', () => {
  let lab: TestLab;
  let s: LabState;
  let kubeconfig: string;
  const kubectl = (...args: string[]) => run(['kubectl', '--kubeconfig', kubeconfig, ...args], { allowFailure: true });

  beforeAll(async () => {
    lab = new TestLab('bpf');
    await lab.up(lab.docs, ['--source', 'kubernetes']);
    s = (await readLabState(lab.name))!;
    kubeconfig = labPaths(lab.name).kubeconfig;
  });
  afterAll(async () => {
    await lab?.down();
  });

  it('leaves no device, nft table, router namespace, TC program, pin, DHCP server, stored state or API object, and the uplink as it was', async () => {
    // Traffic first: both tenants, across nodes and out through the gateway.
    expect(await lab.ping('vm-a1', '10.10.0.3')).toBe(true);
    expect(await lab.ping('vm-b1', '10.10.0.3')).toBe(true);
    const uplinkBefore = await Promise.all(s.nodes.map((n) => run(['ip', '-n', n.netns, '-o', 'addr', 'show', 'dev', n.uplink]).then((r) => r.stdout)));
    const before = await Promise.all(s.nodes.map((n) => leftovers(n)));
    for (const b of before) {
      expect(b.links).toEqual(expect.arrayContaining(['vxb100', 'vxb200', 'vxe0']));
      expect(b.nftTables.length).toBeGreaterThan(0);
      expect(b.routerNamespaces.length).toBeGreaterThan(0); // one per network with a VM on the node
      expect(b.tcPrograms.length).toBeGreaterThan(0);
      expect(b.pins).toContain('vxm_endpoints');
      expect(b.dhcpServers).toHaveLength(b.routerNamespaces.length);
    }
    expect((await kubectl('get', 'net-attach-def', '-A', '-o', 'name')).stdout.trim().split('\n')).toHaveLength(2);

    // (1) The VMs and the networks go; the controller removes the NADs.
    const kept = lab.docs.filter((d) => !['VirtualMachineInstance', 'VxlanNetwork'].includes(d.kind));
    const applied = await lab.apply(kept);
    expect(applied.exitCode, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('6 deleted');
    expect((await kubectl('get', 'vxlannetworks', '-A', '-o', 'name')).stdout.trim()).toBe('');
    for (let i = 0; i < 50 && (await kubectl('get', 'net-attach-def', '-A', '-o', 'name')).stdout.trim(); i++) await new Promise((r) => setTimeout(r, 200));
    expect((await kubectl('get', 'net-attach-def', '-A', '-o', 'name')).stdout.trim()).toBe('');

    // (2) The release: the real helm adopts what the lab applied and uninstalls it; the pods stop.
    const install = helm(['upgrade', '--install', 'vxmesh', CHART_DIR, '-n', 'vxmesh-system', '--take-ownership', '--kubeconfig', kubeconfig]);
    expect(install.status, install.stderr).toBe(0);
    expect(helm(['list', '-n', 'vxmesh-system', '-q', '--kubeconfig', kubeconfig]).stdout.trim()).toBe('vxmesh');
    const uninstall = helm(['uninstall', 'vxmesh', '-n', 'vxmesh-system', '--kubeconfig', kubeconfig]);
    expect(uninstall.status, uninstall.stderr).toBe(0);
    const pids = [s.kube!.controllerPid, ...s.nodes.map((n) => n.agentPid)].filter((p): p is number => !!p);
    for (const pid of pids) process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && pids.some(isAlive); i++) await new Promise((r) => setTimeout(r, 100));
    expect(pids.filter(isAlive)).toEqual([]);
    // What the release held is gone (the Lease the controller made stays in vxmesh-system until that
    // namespace is deleted with deploy/harvester/vxmesh.yaml, README's step 4).
    const named = async (...args: string[]) => (await kubectl('get', ...args, '-o', 'name')).stdout.split('\n').filter((l) => l.includes('vxmesh'));
    for (const kind of ['serviceaccounts', 'daemonsets', 'deployments', 'roles', 'rolebindings']) expect(await named(kind, '-n', 'vxmesh-system'), kind).toEqual([]);
    for (const kind of ['clusterroles', 'clusterrolebindings', 'validatingadmissionpolicies', 'validatingadmissionpolicybindings']) expect(await named(kind), kind).toEqual([]);
    // A stopped agent leaves its dataplane (an upgrade must not cut traffic): the cleanup has work to do.
    const stopped = await Promise.all(s.nodes.map((n) => leftovers(n)));
    for (const x of stopped) expect(x.pins.length + x.tcPrograms.length + x.nftTables.length).toBeGreaterThan(0);

    // (3) vxmesh agent --cleanup on every node, with the agent's own paths.
    for (const n of s.nodes) {
      const r = await run(['nsenter', `--net=/run/netns/${n.netns}`, '--', process.execPath, path.join(REPO, 'dist/cli/main.js'),
        'agent', '--node', n.name, '--mode', 'bpf', '--bpffs', n.bpffs, '--state-dir', labPaths(lab.name).agentState, '--cleanup'], { allowFailure: true });
      expect(r.exitCode, `${n.name}: ${r.stderr}`).toBe(0);
    }

    // (4) The CRDs (Helm never deletes them): their objects go with them.
    expect((await kubectl('delete', '-f', path.join(REPO, 'deploy/crds'))).exitCode).toBe(0);

    for (const [i, n] of s.nodes.entries()) {
      expect(await leftovers(n), n.name).toEqual({ links: [], nftTables: [], routerNamespaces: [], tcPrograms: [], pins: [], dhcpServers: [] });
      expect((await run(['ip', '-n', n.netns, '-o', 'addr', 'show', 'dev', n.uplink])).stdout, n.name).toBe(uplinkBefore[i]);
      const stored = path.join(labPaths(lab.name).agentState, n.name);
      expect(existsSync(stored) ? readdirSync(stored) : [], n.name).toEqual([]);
    }
    const groups = (await kubectl('api-resources', '-o', 'name')).stdout.split('\n').filter((r) => r.endsWith('.network.vxmesh.io'));
    expect(groups).toEqual([]);
    expect((await kubectl('get', 'net-attach-def', '-A', '-o', 'name')).stdout.trim()).toBe('');
  });
});
