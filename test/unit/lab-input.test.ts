/** Pure parts of the lab and the agent: reading a lab file, expected connectivity, mode leftovers, status objects. */
import { describe, expect, it } from 'vitest';
import { readLabInput } from '../../src/lab/input.js';
import { expectedResponder, plannedProbes, NONE } from '../../src/lab/matrix.js';
import { vmState } from '../../src/lab/vms.js';
import { otherModeLeftovers } from '../../src/agent/leftovers.js';
import { statusObject } from '../../src/agent/status.js';
import type { LabState } from '../../src/lab/state.js';
import { exampleDocs, find, toYaml } from '../helpers/lab.js';

describe('readLabInput', () => {
  it('turns the example into nodes, VMs with allocated addresses, and objects for the agents', () => {
    const { input, errors } = readLabInput(toYaml(exampleDocs('demo', 'auto')), 'lab.yaml');
    expect(errors).toEqual([]);
    expect(input!.lab.spec.nodes.map((n) => n.name)).toEqual(['demon1', 'demon2', 'demon3']);
    expect(input!.uplink).toBe('vxmu0');
    const ips = Object.fromEntries(input!.vms.map((v) => [v.name, v.nics[0]!.ip]));
    expect(ips).toEqual({ 'vm-a1': '10.10.0.2', 'vm-a2': '10.10.0.3', 'vm-a3': '10.10.0.4', 'vm-b1': '10.10.0.2', 'vm-b2': '10.10.0.3', 'vm-b3': '10.10.0.50' });
    expect(input!.vms[0]!.nics[0]).toMatchObject({ vni: 100, gateway: '10.10.0.1', prefixLen: 24, mtu: 1450, natOutgoing: true });
    const kinds = (input!.objects as Array<{ kind: string }>).map((o) => o.kind);
    expect(kinds).not.toContain('Lab');
    expect(kinds.filter((k) => k === 'Node')).toHaveLength(3);
    expect(kinds.filter((k) => k === 'VxlanIPAllocation')).toHaveLength(6);
  });

  it('keeps existing allocations and running VMs where they are', () => {
    const first = readLabInput(toYaml(exampleDocs('demo', 'auto')), 'lab.yaml').input!;
    const docs = exampleDocs('demo', 'auto').filter((d) => d.metadata.name !== 'vm-a1');
    const again = readLabInput(toYaml(docs), 'lab.yaml', {
      allocations: first.snapshot.allocations,
      placement: new Map([['tenant-a/vm-a2', 'demon3']]),
    }).input!;
    expect(again.vms.find((v) => v.name === 'vm-a2')).toMatchObject({ node: 'demon3', nics: [{ ip: '10.10.0.3' }] });
    expect(again.vms.find((v) => v.name === 'vm-a3')?.nics[0]?.ip).toBe('10.10.0.4');
  });

  it('names object and field for lab-specific mistakes', () => {
    const docs = exampleDocs('demo', 'auto');
    find(docs, 'VirtualMachineInstance', 'vm-b1').metadata.name = 'vm-a1';
    delete find(docs, 'VirtualMachineInstance', 'vm-a2').status.nodeName;
    const { input, errors } = readLabInput(toYaml(docs), 'lab.yaml');
    expect(input).toBeUndefined();
    expect(errors.map((e) => e.message)).toEqual(expect.arrayContaining([
      expect.stringMatching(/VirtualMachineInstance tenant-a\/vm-a2: status\.nodeName must name a node of Lab demo/),
      expect.stringMatching(/VirtualMachineInstance tenant-b\/vm-a1: metadata\.name is also used by tenant-a\/vm-a1/),
    ]));
  });

  it('reports malformed YAML without going further', () => {
    const { errors } = readLabInput('kind: [x\n', 'bad.yaml');
    expect(errors[0]!.message).toMatch(/bad\.yaml: malformed YAML/);
  });
});

describe('connectivity expectations', () => {
  const input = readLabInput(toYaml(exampleDocs('demo', 'auto')), 'lab.yaml').input!;
  const state: LabState = {
    lab: 'demo', mode: 'kernel', repo: '/', underlayNetns: 'vxm-demo-ul', clusterNetwork: 'overlay',
    nodes: input.lab.spec.nodes.map((n, i) => ({ name: n.name, netns: `vxm-demo-${n.name}`, underlayIP: `198.18.0.${11 + i}`, uplink: 'vxmu0', bpffs: '/x' })),
    external: { netns: 'vxm-demo-ext', ip: '198.18.0.254', port: 8080 },
    vms: input.vms.map((v) => vmState('demo', v)),
  };
  const vm = (n: string) => state.vms.find((v) => v.name === n)!;

  it('expects the same IP to be answered by the VM of the same network', () => {
    expect(expectedResponder(state, vm('vm-a1'), '10.10.0.3')).toBe('vm-a2');
    expect(expectedResponder(state, vm('vm-b1'), '10.10.0.3')).toBe('vm-b2');
    expect(expectedResponder(state, vm('vm-a1'), '10.10.0.50')).toBe(NONE);
  });

  it('plans VM, gateway and external probes with NAT to the node address', () => {
    const p = plannedProbes(state);
    expect(p).toHaveLength(6 * 5 + 6 + 6);
    expect(p.find((x) => x.from === 'vm-b2' && x.to === 'external')).toMatchObject({ target: '198.18.0.254:8080', expected: '198.18.0.13' });
    expect(p.find((x) => x.from === 'vm-a1' && x.to === 'gateway')).toMatchObject({ target: '10.10.0.1', expected: 'reply' });
  });
});

describe('agent helpers', () => {
  it("finds the other mode's leftovers", () => {
    expect(otherModeLeftovers('bpf', ['lo', 'vxl100', 'vxb100', 'vxe0'], false)).toEqual(['vxl100']);
    expect(otherModeLeftovers('kernel', ['lo', 'vxl100', 'vxe0'], true)).toEqual(['vxe0', 'bpffs pins']);
    expect(otherModeLeftovers('kernel', ['vxl100', 'vxb100'], false)).toEqual([]);
  });

  it('builds the VxlanStatus a node publishes, with Ready, VtepReady, DataplaneMode and InputValid conditions', () => {
    const s = statusObject({ node: 'n1', clusterNetwork: 'overlay', mode: 'bpf', ready: false, message: 'x', at: new Date(0), vtepProblem: 'uplink eth1 has no IPv4 address', invalidInputs: ['VxlanNetwork a/b: spec.vni: bad'] });
    expect(s).toEqual({
      apiVersion: 'network.vxmesh.io/v1alpha1', kind: 'VxlanStatus', metadata: { name: 'overlay.n1' },
      status: {
        clusterNetwork: 'overlay', node: 'n1', mode: 'bpf', ready: false, message: 'x', lastReconcile: '1970-01-01T00:00:00.000Z',
        conditions: [
          { type: 'Ready', status: 'False', reason: 'ReconcileFailed', message: 'x', lastTransitionTime: '1970-01-01T00:00:00.000Z' },
          { type: 'VtepReady', status: 'False', reason: 'NoVtepAddress', message: 'uplink eth1 has no IPv4 address', lastTransitionTime: '1970-01-01T00:00:00.000Z' },
          { type: 'DataplaneMode', status: 'True', reason: 'AsRequested', message: 'bpf dataplane, as requested', lastTransitionTime: '1970-01-01T00:00:00.000Z' },
          { type: 'InputValid', status: 'False', reason: 'InvalidObjects', message: '1 invalid object(s), last good versions kept: VxlanNetwork a/b: spec.vni: bad', lastTransitionTime: '1970-01-01T00:00:00.000Z' },
        ],
      },
    });
  });

  it('keeps a condition\'s transition time while its status stays, and moves it when the status flips', () => {
    const first = statusObject({ node: 'n1', clusterNetwork: 'overlay', vtepIP: '198.18.0.11', mode: 'bpf', ready: false, message: 'x', at: new Date(0) });
    const later = statusObject({ node: 'n1', clusterNetwork: 'overlay', vtepIP: '198.18.0.11', mode: 'bpf', ready: true, message: 'ok', at: new Date(60_000), previous: first.status.conditions });
    const byType = Object.fromEntries(later.status.conditions!.map((c) => [c.type, c]));
    expect(byType.VtepReady).toMatchObject({ status: 'True', reason: 'UplinkAddress', message: 'VTEP 198.18.0.11 (bpf dataplane)', lastTransitionTime: '1970-01-01T00:00:00.000Z' });
    expect(byType.Ready).toMatchObject({ status: 'True', reason: 'Reconciled', lastTransitionTime: '1970-01-01T00:01:00.000Z' });
  });
});
