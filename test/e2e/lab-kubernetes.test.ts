/**
 * `vxmesh lab up --source kubernetes`: the demo lab driven through a Kubernetes API server (the double,
 * the one part that cannot be real here) instead of a state file. The real controller allocates the
 * addresses, the real agents read everything through informers and publish their VxlanStatus, the lab
 * writes VMIs like a user and KubeVirt would. Checked through the CLI, real traffic, and the API itself.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient, loadKubeConfig } from '../../src/k8s/client.js';
import { RESOURCES } from '../../src/k8s/resources.js';
import type { LabStatusJson } from '../../src/lab/status.js';
import { isAlive } from '../../src/lab/processes.js';
import { readLabState } from '../../src/lab/state.js';
import { run } from '../../src/util/exec.js';
import { parsePing, sleep, TestLab, withVm } from '../helpers/lab.js';

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

  it('reports the API server, the controller and every agent ready in lab status --json', () => {
    expect(status.source).toBe('kubernetes');
    expect(status.apiserver).toMatchObject({ running: true, controllerRunning: true, agentUrl: 'http://198.18.0.250:6443' });
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

  it('keeps forwarding while the API server is down for 3 s, and follows changes made after it is back', async () => {
    const before = await allocationsByVm();
    const ping = lab.exec('vm-b1', ['ping', '-i', '0.02', '-c', '300', '-q', '10.10.0.50'], { timeoutMs: 30_000 });
    await sleep(300);
    const r = await lab.cli(['lab', 'restart', 'apiserver', '--down-ms', '3000', '--lab', lab.name]);
    expect(r.exitCode, r.stderr).toBe(0);
    const stats = parsePing((await ping).stdout);
    expect(stats.lost, `${stats.lost} of ${stats.transmitted} lost across the API server restart`).toBeLessThanOrEqual(2);
    expect(await allocationsByVm()).toEqual(before); // the objects survived the restart
    const add = await lab.apply(withVm(lab.docs, 'vm-b1', { name: 'vm-b4', mac: '02:00:0b:00:01:04', node: lab.node(2) }));
    expect(add.exitCode, add.stderr).toBe(0);
    expect((await allocationsByVm())['tenant-b/vm-b4']).toBe('10.10.0.4');
    expect(await lab.whoAnswers('vm-b3', '10.10.0.4')).toBe('vm-b4');
  });

  it('lab down stops the API server, its relay, the controller and the agents, even with lab.json lost', async () => {
    const st = (await readLabState(lab.name))!;
    const pids = [st.kube!.apiPid, st.kube!.relayPid, st.kube!.controllerPid, ...st.nodes.map((n) => n.agentPid)];
    expect(pids.every((p) => isAlive(p))).toBe(true);
    rmSync(`/run/vxmesh/${lab.name}/lab.json`); // what down usually reads: it must find the processes anyway
    const down = await lab.cli(['lab', 'down', '-f', lab.writeFile(lab.docs)]);
    expect(down.exitCode, down.stderr).toBe(0);
    for (const pid of pids) expect(isAlive(pid), `pid ${pid}`).toBe(false);
    expect((await run(['ip', 'netns', 'list'])).stdout).not.toMatch(new RegExp(`vxm-${lab.name}-|vxmr-${lab.name}n`));
    expect((await run(['test', '-e', `/run/vxmesh/${lab.name}`], { allowFailure: true })).exitCode).not.toBe(0);
  });
});
