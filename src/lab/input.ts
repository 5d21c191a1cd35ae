/**
 * Reading a lab file: the cluster objects plus one Lab object. Everything is validated before anything is
 * created (parse, schemas, cross-object checks, IPAM, lab-specific checks); the result is the complete
 * desired world: the objects the agents will read and the VMs the lab must create.
 */
import YAML from 'yaml';
import { InvalidSpecError, SourceError, type VxmeshError } from '../errors.js';
import { allocate } from '../ipam/allocate.js';
import { VXMESH_API, keyOf, labSchema, type Lab, type Snapshot, type VxlanIPAllocation } from '../model/schema.js';
import { vmiNics } from '../model/vmi.js';
import { buildSnapshot, parseDocuments, type LastGood } from '../sources/validate.js';
import { firstHost, parseCidr } from '../util/ipv4.js';

export interface PlannedNic {
  iface: string;
  network: string;
  vni: number;
  mac: string;
  ip: string;
  prefixLen: number;
  gateway: string;
  natOutgoing: boolean;
  mtu: number;
  /** The network serves DHCP: the guest runs a DHCP client; else the lab configures it statically (as cloud-init would). */
  dhcp: boolean;
}

export interface PlannedVm {
  name: string;
  namespace: string;
  node: string;
  nics: PlannedNic[];
}

export interface LabInput {
  lab: Lab;
  /** Cluster objects for the agents (no Lab; Node objects and allocations included). */
  objects: unknown[];
  snapshot: Snapshot;
  clusterNetwork: string;
  uplink: string;
  uplinkMtu: number;
  vms: PlannedVm[];
}

export interface ReadOptions {
  /** Allocations already made (kept by IPAM). */
  allocations?: VxlanIPAllocation[];
  /** Where running VMs are (vm key -> node): they stay there (use `lab migrate` to move one). */
  placement?: Map<string, string>;
  /** The running lab's accepted objects: on a conflict the edited object is the one reported. */
  lastGood?: LastGood;
}

/** The name of the Lab object of a lab file, if it has one (whatever else is wrong with the file). */
export function labNameOf(text: string, origin: string): string | undefined {
  const lab = parseDocuments(text, origin).docs.find((d) => isObj(d) && d.kind === 'Lab' && isObj(d.metadata));
  const name = isObj(lab) ? lab.metadata.name : undefined;
  return typeof name === 'string' && /^[a-z0-9]{1,8}$/.test(name) ? name : undefined;
}

/** The accepted versions of the objects of a lab state file (empty text: none). */
export function lastGoodOf(stateText: string): LastGood {
  return stateText ? buildSnapshot(parseDocuments(stateText, 'state').docs).lastGood : new Map();
}

const isObj = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function readLabInput(text: string, origin: string, opts: ReadOptions = {}): { input?: LabInput; errors: VxmeshError[] } {
  const parsed = parseDocuments(text, origin);
  if (parsed.errors.length) return { errors: parsed.errors };
  const errors: VxmeshError[] = [];
  const labDocs = parsed.docs.filter((d) => isObj(d) && d.kind === 'Lab');
  if (labDocs.length !== 1) return { errors: [new SourceError(`${origin}: expected exactly one ${VXMESH_API} Lab object, found ${labDocs.length}`)] };
  const labRes = labSchema.safeParse(labDocs[0]);
  if (!labRes.success) {
    const issue = labRes.error.issues[0]!;
    const name = isObj(labDocs[0]) && isObj(labDocs[0].metadata) ? String(labDocs[0].metadata.name) : '<unnamed>';
    return { errors: [new InvalidSpecError({ kind: 'Lab', name }, issue.path.join('.') || '(object)', issue.message)] };
  }
  const lab = labRes.data;
  const nodeNames = lab.spec.nodes.map((n) => n.name);

  const docs: unknown[] = [];
  for (const d of parsed.docs) {
    if (!isObj(d) || d.kind === 'Lab' || d.kind === 'VxlanIPAllocation' || d.kind === 'VxlanStatus') continue;
    if (d.kind === 'VirtualMachineInstance' && opts.placement) {
      const key = `${d.metadata?.namespace ?? 'default'}/${d.metadata?.name}`;
      const node = opts.placement.get(key);
      if (node) docs.push({ ...d, status: { ...(isObj(d.status) ? d.status : {}), nodeName: node } });
      else docs.push(d);
    } else docs.push(d);
  }
  const declaredNodes = new Set(docs.filter((d) => isObj(d) && d.kind === 'Node').map((d) => (d as any).metadata?.name));
  for (const n of lab.spec.nodes) {
    if (!declaredNodes.has(n.name)) docs.push({ apiVersion: 'v1', kind: 'Node', metadata: { name: n.name, labels: n.labels } });
  }
  const built = buildSnapshot([...docs, ...(opts.allocations ?? [])], opts.lastGood);
  errors.push(...built.errors);
  const snapshot = built.snapshot;
  const alloc = allocate(snapshot);
  errors.push(...alloc.errors);
  snapshot.allocations = alloc.allocations;

  const cfg = snapshot.vxlanConfigs[0];
  if (!cfg) errors.push(new SourceError(`${origin}: no valid VxlanConfig: the lab needs one to know the nodes' uplink`));
  const seenNames = new Map<string, string>();
  const reserved = new Set(['ul', 'ext', ...nodeNames]);
  const vms: PlannedVm[] = [];
  for (const vmi of snapshot.vmis) {
    const ref = { kind: 'VirtualMachineInstance', namespace: vmi.metadata.namespace, name: vmi.metadata.name };
    const node = vmi.status.nodeName;
    if (!node || !nodeNames.includes(node)) {
      errors.push(new InvalidSpecError(ref, 'status.nodeName', `${node ? `"${node}" is not` : 'must name'} a node of Lab ${lab.metadata.name} (${nodeNames.join(', ')})`));
      continue;
    }
    const other = seenNames.get(vmi.metadata.name);
    if (other) errors.push(new InvalidSpecError(ref, 'metadata.name', `is also used by ${other}: VM names must be unique within a lab (one namespace each)`));
    else if (reserved.has(vmi.metadata.name)) errors.push(new InvalidSpecError(ref, 'metadata.name', 'collides with a lab node or reserved name (ul, ext)'));
    seenNames.set(vmi.metadata.name, keyOf(vmi));
    const nics: PlannedNic[] = [];
    for (const nic of vmiNics(vmi)) {
      const net = snapshot.vxlanNetworks.find((n) => keyOf(n) === nic.network);
      if (!net) continue;
      const a = snapshot.allocations.find((x) => x.metadata.namespace === nic.namespace && x.spec.vm === nic.name && x.spec.interface === nic.iface);
      if (!nic.mac) {
        errors.push(new InvalidSpecError(ref, `spec.domain.devices.interfaces[${nic.iface}].macAddress`, 'is required in the lab'));
        continue;
      }
      if (!a) continue; // allocate() reported why
      const uplinkMtu = snapshot.vxlanConfigs.find((c) => c.spec.clusterNetwork === net.spec.clusterNetwork)?.spec.uplink.linkAttributes.mtu ?? 1500;
      const c = parseCidr(net.spec.cidr);
      nics.push({
        iface: nic.iface,
        network: nic.network,
        vni: net.spec.vni,
        mac: nic.mac,
        ip: a.spec.ip,
        prefixLen: c.prefixLen,
        gateway: net.spec.gateway ?? firstHost(c),
        natOutgoing: net.spec.natOutgoing,
        mtu: net.spec.mtu ?? uplinkMtu - 50,
        dhcp: net.spec.dhcp,
      });
    }
    vms.push({ name: vmi.metadata.name, namespace: vmi.metadata.namespace ?? 'default', node, nics });
  }
  if (errors.length || !cfg) return { errors };
  const objects = [...docs, ...alloc.allocations];
  return {
    errors,
    input: {
      lab,
      objects,
      snapshot,
      clusterNetwork: cfg.spec.clusterNetwork,
      uplink: cfg.spec.uplink.nics[0]!,
      uplinkMtu: cfg.spec.uplink.linkAttributes.mtu ?? 1500,
      vms,
    },
  };
}

export function objectsToYaml(objects: unknown[]): string {
  return objects.map((o) => YAML.stringify(o)).join('---\n');
}
