/**
 * Cross-object validation. Objects are taken oldest first (creationTimestamp, then name), so the object
 * that was there first keeps its VNI / MAC / IP and the newcomer is the one rejected. A rejected object
 * falls back to its last good version when that version fits; otherwise it is left out. Pure.
 */
import { InvalidSpecError, type ObjectRef } from '../errors.js';
import type { ClusterNetwork, VirtualMachineInstance, VxlanConfig, VxlanIPAllocation, VxlanNetwork } from '../model/schema.js';
import { keyOf } from '../model/schema.js';
import { vmiNics } from '../model/vmi.js';
import { cidrContains, formatCidr, ipToInt, isNetworkOrBroadcast, parseCidr, firstHost } from '../util/ipv4.js';

type Obj = { kind: string; metadata: { name: string; namespace?: string; creationTimestamp?: string } };

/** What has been accepted so far, indexed for the checks. */
interface Accepted {
  clusterNetworks: Set<string>;
  configs: VxlanConfig[];
  /** "<cn>/<vni>" -> network key */
  vnis: Map<string, string>;
  networks: Map<string, VxlanNetwork>;
  /** "<network>/<mac>" -> vm key */
  macs: Map<string, string>;
  /** "<network>/<ip>" -> owner description */
  fixedIps: Map<string, string>;
  allocIps: Map<string, string>;
}

type Check<T> = (o: T, acc: Accepted) => InvalidSpecError | undefined;

const ORDER = ['ClusterNetwork', 'VxlanConfig', 'VxlanNetwork', 'VirtualMachineInstance', 'VxlanIPAllocation'];

export function checkConflicts(
  candidates: Map<string, unknown>,
  lastGood: Map<string, unknown>,
  networkAttachmentDefinitions: Set<string> = new Set(),
): { accepted: Map<string, unknown>; errors: InvalidSpecError[] } {
  const acc: Accepted = {
    clusterNetworks: new Set(), configs: [], vnis: new Map(), networks: new Map(),
    macs: new Map(), fixedIps: new Map(), allocIps: new Map(),
  };
  const accepted = new Map<string, unknown>();
  const errors: InvalidSpecError[] = [];
  const entries = [...candidates.entries()].sort(([ia, a], [ib, b]) => {
    const ka = ORDER.indexOf((a as Obj).kind), kb = ORDER.indexOf((b as Obj).kind);
    if (ka !== kb) return (ka === -1 ? 99 : ka) - (kb === -1 ? 99 : kb);
    const ta = (a as Obj).metadata.creationTimestamp ?? '', tb = (b as Obj).metadata.creationTimestamp ?? '';
    return ta !== tb ? ta.localeCompare(tb) : ia.localeCompare(ib);
  });
  for (const [id, obj] of entries) {
    const err = check(obj as Obj, acc, networkAttachmentDefinitions);
    if (!err) {
      admit(obj as Obj, acc);
      accepted.set(id, obj);
      continue;
    }
    errors.push(err);
    const previous = lastGood.get(id);
    if (previous && previous !== obj && !check(previous as Obj, acc, networkAttachmentDefinitions)) {
      admit(previous as Obj, acc);
      accepted.set(id, previous);
    }
  }
  return { accepted, errors };
}

function ref(o: Obj): ObjectRef {
  return { kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name };
}

function check(o: Obj, acc: Accepted, nads: Set<string>): InvalidSpecError | undefined {
  switch (o.kind) {
    case 'VxlanConfig': return checkConfig(o as unknown as VxlanConfig, acc);
    case 'VxlanNetwork': return checkNetwork(o as unknown as VxlanNetwork, acc);
    case 'VirtualMachineInstance': return checkVmi(o as unknown as VirtualMachineInstance, acc, nads);
    case 'VxlanIPAllocation': return checkAllocation(o as unknown as VxlanIPAllocation, acc);
    default: return undefined;
  }
}

function admit(o: Obj, acc: Accepted): void {
  if (o.kind === 'ClusterNetwork') acc.clusterNetworks.add((o as ClusterNetwork).metadata.name);
  if (o.kind === 'VxlanConfig') acc.configs.push(o as unknown as VxlanConfig);
  if (o.kind === 'VxlanNetwork') {
    const n = o as unknown as VxlanNetwork;
    acc.networks.set(keyOf(n), n);
    acc.vnis.set(`${n.spec.clusterNetwork}/${n.spec.vni}`, keyOf(n));
  }
  if (o.kind === 'VirtualMachineInstance') {
    for (const nic of vmiNics(o as unknown as VirtualMachineInstance)) {
      if (!acc.networks.has(nic.network)) continue;
      if (nic.mac) acc.macs.set(`${nic.network}/${nic.mac}`, nic.vm);
      if (nic.fixedIp) acc.fixedIps.set(`${nic.network}/${nic.fixedIp}`, `${nic.vm} ${nic.iface}`);
    }
  }
  if (o.kind === 'VxlanIPAllocation') {
    const a = o as unknown as VxlanIPAllocation;
    acc.allocIps.set(`${a.spec.network}/${a.spec.ip}`, keyOf(a));
  }
}

const checkConfig: Check<VxlanConfig> = (c, acc) => {
  const cn = c.spec.clusterNetwork;
  if (cn === 'mgmt') return new InvalidSpecError(ref(c as unknown as Obj), 'spec.clusterNetwork', 'mgmt is built in and takes no VxlanConfig');
  if (!acc.clusterNetworks.has(cn)) return new InvalidSpecError(ref(c as unknown as Obj), 'spec.clusterNetwork', `${cn}: no such ClusterNetwork`);
  const same = acc.configs.find((o) => o.spec.clusterNetwork === cn && JSON.stringify(o.spec.nodeSelector) === JSON.stringify(c.spec.nodeSelector));
  if (same) return new InvalidSpecError(ref(c as unknown as Obj), 'spec.nodeSelector', `selects the same nodes as VxlanConfig ${same.metadata.name} of cluster network ${cn}`);
  return undefined;
};

const checkNetwork: Check<VxlanNetwork> = (n, acc) => {
  const r = ref(n as unknown as Obj);
  const { clusterNetwork: cn, vni, cidr, gateway } = n.spec;
  if (cn === 'mgmt') return new InvalidSpecError(r, 'spec.clusterNetwork', 'mgmt cannot carry VxLAN networks; use a custom cluster network');
  if (!acc.clusterNetworks.has(cn)) return new InvalidSpecError(r, 'spec.clusterNetwork', `${cn}: no such ClusterNetwork`);
  const c = parseCidr(cidr);
  if (formatCidr(c) !== cidr) return new InvalidSpecError(r, 'spec.cidr', `${cidr} has host bits set (did you mean ${formatCidr(c)}?)`);
  if (c.prefixLen > 30) return new InvalidSpecError(r, 'spec.cidr', `${cidr} is too small (at most /30)`);
  if (gateway !== undefined) {
    if (!cidrContains(c, gateway)) return new InvalidSpecError(r, 'spec.gateway', `${gateway} is not inside spec.cidr ${cidr}`);
    if (isNetworkOrBroadcast(c, gateway)) return new InvalidSpecError(r, 'spec.gateway', `${gateway} is the network or broadcast address of ${cidr}`);
  }
  const owner = acc.vnis.get(`${cn}/${vni}`);
  if (owner) return new InvalidSpecError(r, 'spec.vni', `${vni} is already used by VxlanNetwork ${owner} in cluster network ${cn}`);
  const uplinkMtu = acc.configs.find((cfg) => cfg.spec.clusterNetwork === cn)?.spec.uplink.linkAttributes.mtu ?? 1500;
  if (n.spec.mtu !== undefined && n.spec.mtu > uplinkMtu - 50)
    return new InvalidSpecError(r, 'spec.mtu', `${n.spec.mtu} does not fit the uplink MTU ${uplinkMtu} minus 50 bytes of VxLAN overhead`);
  return undefined;
};

const checkVmi = (v: VirtualMachineInstance, acc: Accepted, nads: Set<string>): InvalidSpecError | undefined => {
  const r = ref(v as unknown as Obj);
  const nics = vmiNics(v);
  for (const [i, nic] of nics.entries()) {
    const net = acc.networks.get(nic.network);
    if (!net) {
      if (nads.has(nic.network)) continue; // another kind of network (VLAN, untagged): not ours
      const idx = v.spec.networks.findIndex((n) => n.name === nic.iface);
      return new InvalidSpecError(r, `spec.networks[${idx < 0 ? i : idx}].multus.networkName`, `${nic.network}: no such VxlanNetwork`);
    }
    if (nic.mac) {
      const other = acc.macs.get(`${nic.network}/${nic.mac}`);
      if (other) return new InvalidSpecError(r, `spec.domain.devices.interfaces[${nic.iface}].macAddress`, `${nic.mac} is already used by ${other} in VxlanNetwork ${nic.network}`);
    }
    if (nic.fixedIp) {
      const field = nic.fixedIpField!;
      const c = parseCidr(net.spec.cidr);
      if (!/^\d+\.\d+\.\d+\.\d+$/.test(nic.fixedIp) || nic.fixedIp.split('.').some((x) => Number(x) > 255))
        return new InvalidSpecError(r, field, `${nic.fixedIp} is not an IPv4 address`);
      if (!cidrContains(c, nic.fixedIp)) return new InvalidSpecError(r, field, `${nic.fixedIp} is not inside ${net.spec.cidr} of VxlanNetwork ${nic.network}`);
      const gw = net.spec.gateway ?? firstHost(c);
      if (isNetworkOrBroadcast(c, nic.fixedIp) || nic.fixedIp === gw)
        return new InvalidSpecError(r, field, `${nic.fixedIp} is the network, broadcast or gateway address of VxlanNetwork ${nic.network}`);
      const other = acc.fixedIps.get(`${nic.network}/${nic.fixedIp}`);
      if (other) return new InvalidSpecError(r, field, `${nic.fixedIp} is already requested by ${other} in VxlanNetwork ${nic.network}`);
    }
  }
  return undefined;
};

const checkAllocation: Check<VxlanIPAllocation> = (a, acc) => {
  const r = ref(a as unknown as Obj);
  const net = acc.networks.get(a.spec.network);
  if (net && !cidrContains(parseCidr(net.spec.cidr), ipToInt(a.spec.ip)))
    return new InvalidSpecError(r, 'spec.ip', `${a.spec.ip} is not inside ${net.spec.cidr} of VxlanNetwork ${a.spec.network}`);
  const other = acc.allocIps.get(`${a.spec.network}/${a.spec.ip}`);
  if (other) return new InvalidSpecError(r, 'spec.ip', `${a.spec.ip} is already allocated to ${other}`);
  return undefined;
};
