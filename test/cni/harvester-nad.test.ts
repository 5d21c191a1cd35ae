/**
 * The NADs vxmesh's controller writes, run through Harvester's own code (harvester-network-controller
 * v1.8.1: pkg/webhook/nad Mutator and Validator, the NAD controller's labelling and MTU sync, built by
 * build/harvester-tools.sh): admitted, labelled without errors, surviving Harvester's MTU rewrite; and
 * today's `bridge: vxb<vni>` NAD refused by the same code (negative control).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { desiredNads, nadSpecForUpdate, nadUpToDate } from '../../src/controller/nad.js';
import { pluginStdin, pluginsOf } from '../../src/cni/invoke.js';
import { fixtureDocs, snapshotOf } from '../helpers/fixtures.js';
import { clusterNetwork, harvesterTool, runHarvester, type HarvesterTool } from './harvester.js';
import type { KObject } from '../../src/k8s/client.js';

let tool: HarvesterTool;
const docs = fixtureDocs('two-tenants.yaml'); // ClusterNetwork overlay, uplink MTU 1500; blue (VNI 100), red (VNI 200, MTU 1400)
const desired = (d: unknown[] = docs) => desiredNads(snapshotOf(d).snapshot, new Map());
const [blue, red] = desired();
const harvester = { clusterNetworks: [clusterNetwork('overlay', 1500)] };
/** The NAD vxmesh wrote before (controller/nad.ts up to this change). */
const oldNad = (n: KObject) => ({
  ...n,
  spec: { config: JSON.stringify({ cniVersion: '0.3.1', name: n.metadata.name, type: 'bridge', bridge: `vxb${n.metadata.labels!['network.vxmesh.io/vni']}`, promiscMode: true, mtu: 1450, ipam: {} }) },
});
const stdinOf = (config: string) => {
  const list = pluginsOf(config);
  return JSON.parse(pluginStdin(list, list.plugins[0]!, { mac: '02:00:00:0a:00:01' })) as Record<string, unknown>;
};

beforeAll(() => {
  tool = harvesterTool();
}, 900_000);

describe("Harvester's NAD webhook and controller on vxmesh's NADs", () => {
  it('the tool is built once, outside the repository, from the pinned upstream version; an unserved version is an error naming it', () => {
    expect(tool.version).toBe('v1.8.1');
    expect(tool.bin.startsWith(path.resolve(new URL('../..', import.meta.url).pathname))).toBe(false);
    const script = new URL('../../build/harvester-tools.sh', import.meta.url).pathname;
    const again = spawnSync('bash', [script, '--print'], { encoding: 'utf8' });
    expect(again.status).toBe(0);
    expect(again.stderr).not.toContain('building');
    const dir = mkdtempSync(path.join(tmpdir(), 'vxm-tools-'));
    try {
      const r = spawnSync('bash', [script], { encoding: 'utf8', env: { ...process.env, VXMESH_TOOLS_DIR: dir, VXMESH_HARVESTER_NC_VERSION: 'v1.8.999' } });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('the Go module proxy did not serve github.com/harvester/harvester-network-controller@v1.8.999');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses today's bridge NAD on vxb<vni> and admits vxmesh's NADs, which its controller labels without errors", () => {
    const [old, b, r] = runHarvester(tool, harvester, [{ op: 'create', nad: oldNad(blue!) }, { op: 'create', nad: blue }, { op: 'create', nad: red }]);
    expect(old!.admission).toMatchObject({ allowed: false });
    expect(old!.admission!.error).toContain('the bridge name vxb100 does not include suffix -br');
    for (const [v, want] of [[b!, blue!], [r!, red!]] as const) {
      expect(v.admission).toMatchObject({ allowed: true });
      expect(v.controller).toMatchObject({ clusterNetwork: 'overlay', networkType: 'UntaggedNetwork' });
      expect(v.controller!.error).toBeUndefined();
      expect(v.controller!.vlanSetError).toBeUndefined();
      // The controller's relabelling goes through the webhooks too, and leaves vxmesh nothing to rewrite.
      const stored = v.controller!.update?.stored ?? v.admission!.stored!;
      expect(v.controller!.update?.allowed ?? true).toBe(true);
      expect(stored.metadata.labels).toMatchObject({ ...want.metadata.labels, 'network.harvesterhci.io/ready': 'true' });
      expect(nadUpToDate(stored as KObject, want)).toBe(true);
      expect(stdinOf(stored.spec.config)).toMatchObject({ type: 'vxmesh-cni', vni: Number(want.metadata.labels!['network.vxmesh.io/vni']) });
    }
  });

  it('a cluster network Harvester does not have is refused (the ClusterNetwork must exist)', () => {
    const other = [
      ...docs.map((d: any) => (d.kind === 'VxlanNetwork' ? { ...d, spec: { ...d.spec, clusterNetwork: 'elsewhere' } } : d)),
      { apiVersion: 'network.harvesterhci.io/v1beta1', kind: 'ClusterNetwork', metadata: { name: 'elsewhere' } },
    ];
    expect(desired(other)).toHaveLength(2);
    const [v] = runHarvester(tool, harvester, [{ op: 'create', nad: desired(other)[0] }]);
    expect(v!.admission!.allowed).toBe(false);
    expect(v!.admission!.error).toContain('clusternetworks.network.harvesterhci.io "elsewhere" not found'); // the mutator's lookup refuses it first
  });

  it("survives Harvester rewriting its MTU: the plugin entry is untouched, vxmesh sees it up to date, and vxmesh's later updates keep Harvester's MTU", () => {
    // The mutator patches a wrong top-level mtu at create; an MTU change of the cluster network is synced into the NAD.
    const wrong = { ...blue!, spec: { config: JSON.stringify({ ...JSON.parse(blue!.spec.config), mtu: 1400 }) } };
    const changedNet = docs.map((d: any) => (d.kind === 'VxlanNetwork' && d.metadata.name === 'blue' ? { ...d, spec: { ...d.spec, mtu: 1300 } } : d));
    const blue2 = desired(changedNet)[0]!;
    const steps = [{ op: 'create', nad: wrong }, { op: 'cn-mtu', clusterNetwork: 'overlay', mtu: 9000 }] as const;
    const [created, synced] = runHarvester(tool, harvester, [...steps]);
    expect(JSON.parse(created!.admission!.stored!.spec.config).mtu).toBe(1500);
    expect(synced!.mtuSync).toHaveLength(1);
    const after = synced!.mtuSync![0]!;
    expect(after.allowed).toBe(true);
    const config = JSON.parse(after.stored!.spec.config);
    expect(config.mtu).toBe(9000);
    expect(config.plugins).toEqual(JSON.parse(blue!.spec.config).plugins);
    expect(stdinOf(after.stored!.spec.config)).toMatchObject({ vni: 100, mtu: 1450 });
    expect(nadUpToDate(after.stored as KObject, blue!)).toBe(true);

    // vxmesh changes the network's MTU afterwards: its update keeps Harvester's top-level mtu and is admitted;
    // writing its own desired spec as is would be refused (negative control).
    const existing = after.stored as KObject;
    const [kept, raw] = [
      runHarvester(tool, harvester, [...steps, { op: 'update', nad: { ...existing, spec: nadSpecForUpdate(existing, blue2) } }])[2]!,
      runHarvester(tool, harvester, [...steps, { op: 'update', nad: { ...existing, spec: blue2.spec } }])[2]!,
    ];
    expect(kept.admission).toMatchObject({ allowed: true });
    expect(stdinOf(kept.admission!.stored!.spec.config)).toMatchObject({ vni: 100, mtu: 1300 });
    expect(raw.admission!.allowed).toBe(false);
    expect(raw.admission!.error).toContain('nad MTU 1500 does not match cluster network MTU 9000');
  });

  it('rejected option: a single-plugin NAD of type vxmesh-cni passes the validator but Harvester cannot label it or update it', () => {
    const single = { ...blue!, spec: { config: JSON.stringify({ cniVersion: '1.0.0', name: 'blue', type: 'vxmesh-cni', bridge: 'overlay-br', mtu: 1500, vni: 100 }) } };
    const [c, u] = runHarvester(tool, harvester, [{ op: 'create', nad: single }, { op: 'update', nad: { ...single, spec: { config: single.spec.config.replace('"vni":100', '"vni":101') } } }]);
    expect(c!.admission!.allowed).toBe(true);
    expect(c!.controller!.error).toContain('cannot determin the network type from netconf type vxmesh-cni');
    expect(u!.admission!.allowed).toBe(false);
    expect(u!.admission!.error).toContain('cannot determin the network type from netconf type vxmesh-cni');
  });
});
