/**
 * `vxmesh lab up --source kubernetes`: the demo lab driven through a real Kubernetes control plane
 * (kube-apiserver + etcd built from the official modules) instead of a state file. deploy/ and the
 * upstream CRDs are installed for real; the real controller allocates the addresses as ServiceAccount
 * vxmesh-controller, the real agents read everything through informers and publish their VxlanStatus as
 * vxmesh-agent, over TLS through the underlay relay; the lab writes VMIs like a user and KubeVirt would.
 * Checked through the CLI, real traffic, the real kubectl and the API itself.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient, loadKubeConfig } from '../../src/k8s/client.js';
import { RESOURCES } from '../../src/k8s/resources.js';
import type { LabStatusJson } from '../../src/lab/status.js';
import { isAlive } from '../../src/lab/processes.js';
import { readLabState } from '../../src/lab/state.js';
import { ControlPlane } from '../../src/controlplane/control-plane.js';
import { run } from '../../src/util/exec.js';
import { parsePing, sleep, TestLab, waitFor, withVm } from '../helpers/lab.js';

const mode = 'bpf';

describe('the demo lab with the Kubernetes source', () => {
  let lab: TestLab;
  let status: LabStatusJson;
  let api: KubeClient;

  const allocationsByVm = async () =>
    Object.fromEntries((await api.list(RESOURCES.allocations)).items.map((a) => [`${a.metadata.namespace}/${a.spec.vm}`, a.spec.ip as string]));

  beforeAll(async () => {
    lab = new TestLab(mode);
    const up = await lab.up(lab.docs, ['--source', 'kubernetes']);
    expect(up.stdout).toContain('All 42 probes match the expectation.');
    status = await lab.status();
    api = new KubeClient(loadKubeConfig({ kubeconfig: status.apiserver!.kubeconfig }));
  });

  afterAll(async () => {
    await lab?.down();
  });

  const kubectl = (...args: string[]) => run(['kubectl', '--kubeconfig', status.apiserver!.kubeconfig, ...args], { allowFailure: true });

  it('reports the API server, the controller and every agent ready in lab status --json', () => {
    expect(status.source).toBe('kubernetes');
    expect(status.apiserver).toMatchObject({
      running: true, controllerRunning: true, agentUrl: 'https://198.18.0.250:6443', kubeconfig: `/run/vxmesh/${lab.name}/kubeconfig`,
      version: 'v1.34.4', etcdVersion: 'v3.6.16', etcdRunning: true,
    });
    expect(status.apiserver!.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(status.nodes.map((n) => [n.name, n.mode, n.agentReady])).toEqual([1, 2, 3].map((i) => [lab.node(i), mode, true]));
    const vm = (name: string) => status.vms.find((v) => v.name === name)!.interfaces[0]!;
    expect(vm('vm-a1')).toMatchObject({ ip: '10.10.0.2', guest: { addressing: 'dhcp', ip: '10.10.0.2/24' } });
    expect(vm('vm-b3').ip).toBe('10.10.0.50'); // the fixed-IP annotation, honoured by the controller
  });

  it('keeps the cluster state in the API server: allocations by the controller, statuses by the agents, NADs', async () => {
    expect(await allocationsByVm()).toEqual({
      'tenant-a/vm-a1': '10.10.0.2', 'tenant-a/vm-a2': '10.10.0.3', 'tenant-a/vm-a3': '10.10.0.4',
      'tenant-b/vm-b1': '10.10.0.2', 'tenant-b/vm-b2': '10.10.0.3', 'tenant-b/vm-b3': '10.10.0.50',
    });
    const items = (await api.list(RESOURCES.statuses)).items;
    const statuses = items.map((s) => [s.status.node, s.status.vtepIP, s.status.mode, s.status.ready]);
    expect(statuses.sort()).toEqual([1, 2, 3].map((i) => [lab.node(i), `198.18.0.1${i}`, mode, true]));
    for (const s of items) {
      const conds = Object.fromEntries(s.status.conditions.map((c: { type: string; status: string }) => [c.type, c.status]));
      expect(conds, s.metadata.name).toEqual({ Ready: 'True', VtepReady: 'True', DataplaneMode: 'True', InputValid: 'True' });
    }
    const nads = (await api.list(RESOURCES.nads)).items.map((n) => `${n.metadata.namespace}/${n.metadata.name}`);
    expect(nads.sort()).toEqual(['tenant-a/blue', 'tenant-b/red']);
    // lab inspect reads the node's mode from its VxlanStatus in the API and shows the maps.
    const inspect = await lab.cli(['lab', 'inspect', lab.node(1), '--lab', lab.name]);
    expect(inspect.exitCode, inspect.stderr).toBe(0);
    expect(inspect.stdout).toContain('02:00:0a:00:01:02'); // vm-a2, remote from node 1
    // What the lab's help tells users to do: kubectl with the lab's kubeconfig.
    const k = await run(['kubectl', '--kubeconfig', status.apiserver!.kubeconfig, 'get', 'vxlanipallocations', '-n', 'tenant-b', '-o', 'json']);
    expect(JSON.parse(k.stdout).items.map((a: any) => a.spec.ip).sort()).toEqual(['10.10.0.2', '10.10.0.3', '10.10.0.50']);
    // kubectl get prints the CRD's columns (the API server answers as=Table).
    const table = await run(['kubectl', '--kubeconfig', status.apiserver!.kubeconfig, 'get', 'vxip', '-n', 'tenant-b']);
    expect(table.stdout).toMatch(/^NAME\s+NETWORK\s+VM\s+INTERFACE\s+IP\s+AGE$/m);
    expect(table.stdout).toMatch(/^vm-b3\.nic1\s+tenant-b\/red\s+vm-b3\s+nic1\s+10\.10\.0\.50\s+\d+[smhd]$/m);
  });

  it('is a real kube-apiserver to kubectl with the admin kubeconfig lab status names', async () => {
    const v = await kubectl('version', '-o', 'json');
    expect(v.exitCode, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout).serverVersion).toMatchObject({ gitVersion: 'v1.34.4', major: '1', minor: '34' });
    const get = await kubectl('get', 'vxn,vxip', '-A');
    expect(get.exitCode, get.stderr).toBe(0);
    expect(get.stdout).toMatch(/^tenant-a\s+vxlannetwork\.network\.vxmesh\.io\/blue\s+100\s+10\.10\.0\.0\/24\s+overlay\s+True\s/m);
    expect(get.stdout.match(/vxlanipallocation\.network\.vxmesh\.io\//g)).toHaveLength(6);
    // deploy/ went in for real: its admission policy and RBAC are there; the upstream CRDs are Established.
    const crds = await kubectl('get', 'crd', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Established")].status}{"\\n"}{end}');
    for (const c of ['vxlannetworks.network.vxmesh.io', 'virtualmachineinstances.kubevirt.io', 'network-attachment-definitions.k8s.cni.cncf.io', 'multi-networkpolicies.k8s.cni.cncf.io', 'clusternetworks.network.harvesterhci.io']) {
      expect(crds.stdout.split('\n'), c).toContain(`${c}=True`);
    }
    expect((await kubectl('get', 'validatingadmissionpolicy', 'vxmesh-agent-own-status')).exitCode).toBe(0);
    // ... with their CEL rules intact: moving a network's VNI is refused by the server, a label is not.
    const vni = await kubectl('patch', 'vxn', 'blue', '-n', 'tenant-a', '--type=merge', '-p', '{"spec":{"vni":300}}', '--dry-run=server');
    expect(vni.exitCode).not.toBe(0);
    expect(vni.stderr).toMatch(/spec\.vni: .*is immutable/);
    const label = await kubectl('label', 'vxn', 'blue', '-n', 'tenant-a', 'try=1', '--dry-run=server');
    expect(label.exitCode, label.stderr).toBe(0);
    // The objects came in through the API: the VMIs' fields are managed by the lab's apply, their status by its update.
    const vmi = JSON.parse((await kubectl('get', 'vmi', 'vm-a1', '-n', 'tenant-a', '-o', 'json', '--show-managed-fields')).stdout);
    expect(vmi.metadata.managedFields.map((f: any) => `${f.manager}/${f.operation}`)).toContain('vxmesh-lab/Apply');
  });

  it("refuses a lab file edit the API server's CEL rules forbid, with the server's message, and changes nothing", async () => {
    const moved = structuredClone(lab.docs);
    moved.find((d) => d.kind === 'VxlanNetwork' && d.metadata.name === 'blue')!.spec.vni = 300;
    const r = await lab.apply(moved);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/VxlanNetwork tenant-a\/blue: the lab's API server refused it: HTTP 422: .*spec\.vni: .*is immutable/);
    expect((await api.get(RESOURCES.vxlanNetworks, 'blue', 'tenant-a'))!.spec.vni).toBe(100);
    const same = await lab.apply(lab.docs); // positive control: the file as it was applies
    expect(same.exitCode, same.stderr).toBe(0);
  });

  it("answers kubectl auth can-i as deploy/'s RBAC says: the agent reads networks but cannot create them; the controller writes allocations", async () => {
    const canI = async (who: string, ...what: string[]) => {
      const r = await kubectl('auth', 'can-i', `--as=system:serviceaccount:vxmesh-system:${who}`, ...what);
      return r.stdout.trim();
    };
    expect(await canI('vxmesh-agent', 'create', 'vxlannetworks', '-A')).toBe('no');
    expect(await canI('vxmesh-agent', 'list', 'vxlannetworks', '-A')).toBe('yes'); // positive control: same subject, a verb it has
    expect(await canI('vxmesh-agent', 'create', 'vxlanipallocations', '-n', 'tenant-a')).toBe('no');
    expect(await canI('vxmesh-agent', 'create', 'vxlanstatuses')).toBe('yes');
    expect(await canI('vxmesh-controller', 'create', 'vxlanipallocations', '-n', 'tenant-a')).toBe('yes');
    expect(await canI('vxmesh-controller', 'create', 'vxlanstatuses')).toBe('no');
  });

  it("gives each agent the vxmesh-agent ServiceAccount bound to its node, over TLS through the underlay relay: refused a network and another node's status", async () => {
    const agentKubeconfig = `/run/vxmesh/${lab.name}/agent-${lab.node(1)}.kubeconfig`;
    const fromNode = (args: string[], input?: string) => lab.exec(lab.node(1), ['kubectl', '--kubeconfig', agentKubeconfig, ...args], { input });
    expect(readFileSync(agentKubeconfig, 'utf8')).toContain('server: https://198.18.0.250:6443');
    expect(readFileSync(agentKubeconfig, 'utf8')).not.toContain('client-certificate-data'); // a token, not the admin's certificate
    const who = await fromNode(['auth', 'whoami', '-o', 'json']);
    expect(who.exitCode, who.stderr).toBe(0); // kubectl verified the serving certificate (198.18.0.250) with the lab's CA
    const user = JSON.parse(who.stdout).status.userInfo;
    expect(user.username).toBe('system:serviceaccount:vxmesh-system:vxmesh-agent');
    expect(user.extra['authentication.kubernetes.io/node-name']).toEqual([lab.node(1)]);
    // RBAC: reads networks, cannot create one.
    const net = { apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanNetwork', metadata: { name: 'sneaky', namespace: 'tenant-a' }, spec: { clusterNetwork: 'overlay', vni: 4242, cidr: '10.99.0.0/24' } };
    const create = await fromNode(['create', '-f', '-'], JSON.stringify(net));
    expect(create.exitCode).not.toBe(0);
    expect(create.stderr).toMatch(/forbidden: User "system:serviceaccount:vxmesh-system:vxmesh-agent" cannot create resource "vxlannetworks"/);
    const list = await fromNode(['get', 'vxlannetworks', '-A', '-o', 'name']);
    expect(list.stdout.trim().split('\n').sort()).toEqual(['vxlannetwork.network.vxmesh.io/blue', 'vxlannetwork.network.vxmesh.io/red']);
    // The admission policy: a VxlanStatus of its own node passes (dry run), one of another node is refused.
    const status = (name: string) => JSON.stringify({ apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanStatus', metadata: { name } });
    const own = await fromNode(['create', '--dry-run=server', '-f', '-'], status(`other.${lab.node(1)}`));
    expect(own.exitCode, own.stderr).toBe(0);
    const other = await fromNode(['create', '--dry-run=server', '-f', '-'], status(`other.${lab.node(2)}`));
    expect(other.exitCode).not.toBe(0);
    expect(other.stderr).toContain('an agent may only write the VxlanStatus of its own node');
    // The controller runs with its own ServiceAccount's kubeconfig too.
    expect(readFileSync(`/run/vxmesh/${lab.name}/controller.kubeconfig`, 'utf8')).toContain('name: system:serviceaccount:vxmesh-system:vxmesh-controller');
  });

  it('live-migrates through the VMI status: the API shows the move, the VM keeps its address', async () => {
    const ping = lab.exec('vm-a1', ['ping', '-i', '0.01', '-c', '400', '-q', '10.10.0.3'], { timeoutMs: 30_000 });
    await sleep(500);
    const r = await lab.cli(['lab', 'migrate', 'vm-a2', '--to', lab.node(3), '--lab', lab.name]);
    expect(r.exitCode, r.stderr).toBe(0);
    const stats = parsePing((await ping).stdout);
    console.log(`[kubernetes/${mode}] migration: ${stats.lost} of ${stats.transmitted} pings lost; ${r.stdout.trim()}`);
    expect(stats.lost).toBeLessThan(100);
    const vmi = await api.get(RESOURCES.vmis, 'vm-a2', 'tenant-a');
    expect(vmi?.status).toMatchObject({ nodeName: lab.node(3), migrationState: { sourceNode: lab.node(2), targetNode: lab.node(3), completed: true } });
    expect((await allocationsByVm())['tenant-a/vm-a2']).toBe('10.10.0.3');
    expect(await lab.whoAnswers('vm-a1', '10.10.0.3')).toBe('vm-a2');
    expect(await lab.whoAnswers('vm-a2', '198.18.0.254', 8080)).toBe('198.18.0.13'); // NAT from the new node
  });

  it('keeps every address across a controller restart, and allocates and releases for VMs added and removed', async () => {
    const before = await allocationsByVm();
    const pid = (await readLabState(lab.name))!.kube!.controllerPid;
    const r = await lab.cli(['lab', 'restart', 'controller', '--lab', lab.name]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(isAlive(pid)).toBe(false);
    const add = await lab.apply(withVm(lab.docs, 'vm-a3', { name: 'vm-a4', mac: '02:00:0a:00:01:04', node: lab.node(2) }));
    expect(add.exitCode, add.stderr).toBe(0);
    expect(await allocationsByVm()).toEqual({ ...before, 'tenant-a/vm-a4': '10.10.0.5' });
    expect(await lab.whoAnswers('vm-a1', '10.10.0.5')).toBe('vm-a4');
    const back = await lab.apply(lab.docs);
    expect(back.exitCode, back.stderr).toBe(0);
    expect(await allocationsByVm()).toEqual(before); // released by the controller when the VMI went away
    expect(await api.get(RESOURCES.vmis, 'vm-a4', 'tenant-a')).toBeUndefined();
    expect(await lab.whoAnswers('vm-a1', '10.10.0.5')).toBe('-');
  });

  it('keeps forwarding while kube-apiserver is stopped and started again on the same etcd, and follows a new VM and a policy after', async () => {
    const before = await allocationsByVm();
    // 10 ms pings across the whole restart (graceful stop, 3 s down, start, every resource served again).
    const ping = lab.exec('vm-b1', ['ping', '-i', '0.01', '-c', '2000', '-q', '10.10.0.50'], { timeoutMs: 60_000 });
    await sleep(500);
    const r = await lab.cli(['lab', 'restart', 'apiserver', '--down-ms', '3000', '--lab', lab.name]);
    expect(r.exitCode, r.stderr).toBe(0);
    const stats = parsePing((await ping).stdout);
    console.log(`[kubernetes/${mode}] API server restart: ${stats.lost} of ${stats.transmitted} pings lost (10 ms); ${r.stdout.trim()}`);
    expect(r.stdout).toMatch(/stopping took [\d.]+ s, 3000 ms down, serving every resource again [\d.]+ s after the start/);
    expect(stats.transmitted).toBe(2000);
    expect(stats.lost, `${stats.lost} of ${stats.transmitted} lost across the API server restart`).toBe(0);
    expect(await allocationsByVm()).toEqual(before); // the objects survived: they are in etcd
    // A change after it is back: a new VM gets an address and answers ...
    const withB4 = withVm(lab.docs, 'vm-b1', { name: 'vm-b4', mac: '02:00:0b:00:01:04', node: lab.node(2) });
    const add = await lab.apply(withB4);
    expect(add.exitCode, add.stderr).toBe(0);
    expect((await allocationsByVm())['tenant-b/vm-b4']).toBe('10.10.0.4');
    expect(await lab.whoAnswers('vm-b3', '10.10.0.4')).toBe('vm-b4');
    // ... and a policy closing tenant-b's VMs to all ingress is followed by every agent, then lifted again.
    expect(await lab.whoAnswers('vm-b1', '10.10.0.50')).toBe('vm-b3');
    const closed = await lab.apply([...withB4, denyIngress('tenant-b', 'red')]);
    expect(closed.exitCode, closed.stderr).toBe(0);
    await waitFor('the policy to close vm-b3', async () => (await lab.whoAnswers('vm-b1', '10.10.0.50')) === '-', 10_000, 200);
    expect(await lab.whoAnswers('vm-b1', '10.10.0.4')).toBe('-'); // vm-b4 on node 2 as well
    expect(await lab.whoAnswers('vm-a1', '10.10.0.3')).toBe('vm-a2'); // tenant-a untouched
    const back = await lab.apply(lab.docs); // no policy, no vm-b4
    expect(back.exitCode, back.stderr).toBe(0);
    await waitFor('vm-b3 open again', async () => (await lab.whoAnswers('vm-b1', '10.10.0.50')) === 'vm-b3', 10_000, 200);
    expect(await allocationsByVm()).toEqual(before);
  });

  it('starts a kube-apiserver that died again on the next lab apply, with every object still there', async () => {
    const before = await allocationsByVm();
    const cp = ControlPlane.attach(`/run/vxmesh/${lab.name}/control-plane`);
    const pid = cp.state.apiPid!;
    process.kill(pid, 'SIGKILL');
    await waitFor('kube-apiserver to be gone', async () => !isAlive(pid), 5000, 50);
    expect((await lab.status()).apiserver).toMatchObject({ running: false, etcdRunning: true });
    const r = await lab.apply(lab.docs);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('Restarted lab processes that had stopped: kube-apiserver.');
    expect((await lab.status()).apiserver).toMatchObject({ running: true, etcdRunning: true });
    expect(await allocationsByVm()).toEqual(before);
  });

  it('lab down stops the control plane, the relays, the controller and the agents and removes etcd\'s data, even with lab.json lost', async () => {
    const st = (await readLabState(lab.name))!;
    const cp = ControlPlane.attach(st.kube!.controlPlane);
    const pids = [cp.state.apiPid, cp.state.etcdPid, st.kube!.relayPid, st.kube!.hostRelayPid, st.kube!.controllerPid, ...st.nodes.map((n) => n.agentPid)];
    expect(pids.every((p) => isAlive(p))).toBe(true);
    expect(existsSync(`${st.kube!.controlPlane}/etcd`)).toBe(true);
    rmSync(`/run/vxmesh/${lab.name}/lab.json`); // what down usually reads: it must find the processes anyway
    const down = await lab.cli(['lab', 'down', '-f', lab.writeFile(lab.docs)]);
    expect(down.exitCode, down.stderr).toBe(0);
    for (const pid of pids) expect(isAlive(pid), `pid ${pid}`).toBe(false);
    expect((await run(['ip', 'netns', 'list'])).stdout).not.toMatch(new RegExp(`vxm-${lab.name}-|vxmr-${lab.name}n`));
    expect(existsSync(`/run/vxmesh/${lab.name}`)).toBe(false);
    const port = await run(['ss', '-Htln', `sport = :${cp.state.apiPort}`]);
    expect(port.stdout.trim()).toBe('');
  });
});

/** A MultiNetworkPolicy selecting every VM of `namespace` on network `network` for ingress, allowing none. */
function denyIngress(namespace: string, network: string) {
  return {
    apiVersion: 'k8s.cni.cncf.io/v1beta1', kind: 'MultiNetworkPolicy',
    metadata: { name: 'deny-ingress', namespace, annotations: { 'k8s.v1.cni.cncf.io/policy-for': `${namespace}/${network}` } },
    spec: { podSelector: {}, policyTypes: ['Ingress'] },
  };
}
