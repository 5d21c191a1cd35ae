/**
 * One object against what is accepted (and reserved) so far: references that resolve and that the object's
 * namespace may use, VNIs unique across the cluster, MACs and addresses unique per network and outside
 * what vxmesh itself uses, a namespace's fair share of networks. Messages name objects of the checked
 * object's own namespace only: a tenant learns nothing about another tenant's objects from them. Pure.
 */
import { InvalidSpecError, type ObjectRef } from '../errors.js';
import { gatewayMac } from '../dataplane/names.js';
import type { VirtualMachineInstance, VxlanConfig, VxlanIPAllocation, VxlanNetwork, VxlanStatus } from '../model/schema.js';
import { vmiNics } from '../model/vmi.js';
import { poolOf } from '../ipam/allocate.js';
import { cidrContains, firstHost, formatCidr, ipToInt, isNetworkOrBroadcast, parseCidr } from '../util/ipv4.js';
import { holderOf, networkLimit, networksIn, nodeSelection, type Accepted, type Holder, type Obj } from './conflict-index.js';

type Check<T> = (o: T, id: string, acc: Accepted, nads: Set<string>) => InvalidSpecError | undefined;

export const VNI_SCOPE = 'VNIs are unique across the cluster: a node keys its bridges, routers and BPF maps by VNI alone';
/** The first three octets of every gateway MAC (gatewayMac() puts the VNI in the last three). */
export const GATEWAY_MAC_PREFIX = gatewayMac(0).slice(0, 8);

export function checkObject(o: Obj, id: string, acc: Accepted, nads: Set<string>): InvalidSpecError | undefined {
  switch (o.kind) {
    case 'VxlanConfig': return checkConfig(o as unknown as VxlanConfig, id, acc, nads);
    case 'VxlanNetwork': return checkNetwork(o as unknown as VxlanNetwork, id, acc, nads);
    case 'VirtualMachineInstance': return checkVmi(o as unknown as VirtualMachineInstance, id, acc, nads);
    case 'VxlanIPAllocation': return checkAllocation(o as unknown as VxlanIPAllocation, id, acc, nads);
    case 'VxlanStatus': return checkStatus(o as unknown as VxlanStatus, id, acc, nads);
    default: return undefined;
  }
}

const ref = (o: Obj): ObjectRef => ({ kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name });
/** " by <holder>" when the holder is in `ns` (or cluster-scoped), else nothing. */
const by = (h: Holder, ns: string | undefined) => (h.namespace === undefined || h.namespace === ns ? ` by ${h.label}` : '');

/** May VMs (or allocations) of namespace `ns` use the network? Its own namespace always may. */
export function mayUse(net: VxlanNetwork, ns: string): boolean {
  return net.metadata.namespace === ns || net.spec.allowedNamespaces.includes(ns);
}

/** Why a MAC cannot be a VM's, or undefined. */
export function reservedMac(mac: string): string | undefined {
  if (mac.startsWith(GATEWAY_MAC_PREFIX)) return `is in vxmesh's gateway MAC range ${GATEWAY_MAC_PREFIX}:xx:xx:xx`;
  if (parseInt(mac.slice(0, 2), 16) & 1) return 'is a multicast or broadcast address';
  if (/^(00:){5}00$/.test(mac)) return 'is the all-zero address';
  return undefined;
}

const checkConfig: Check<VxlanConfig> = (c, id, acc) => {
  const r = ref(c as unknown as Obj);
  const cn = c.spec.clusterNetwork;
  if (cn === 'mgmt') return new InvalidSpecError(r, 'spec.clusterNetwork', 'mgmt is built in and takes no VxlanConfig');
  if (!acc.clusterNetworks.has(cn)) return new InvalidSpecError(r, 'spec.clusterNetwork', `${cn}: no such ClusterNetwork`);
  const same = holderOf(acc, 'configs', nodeSelection(c), id);
  if (same) return new InvalidSpecError(r, 'spec.nodeSelector', `selects the same nodes as ${same.label} of cluster network ${cn}`);
  return undefined;
};

const checkNetwork: Check<VxlanNetwork> = (n, id, acc) => {
  const r = ref(n as unknown as Obj);
  const ns = n.metadata.namespace!;
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
  const owner = holderOf(acc, 'vnis', String(vni), id);
  if (owner) {
    const where = owner.namespace === ns ? `used by ${owner.label}` : 'in use';
    return new InvalidSpecError(r, 'spec.vni', `${vni} is already ${where} (${VNI_SCOPE})`);
  }
  const limit = networkLimit(acc, cn);
  const count = networksIn(acc, cn, ns, id);
  if (count >= limit)
    return new InvalidSpecError(r, 'metadata.namespace', `${ns} already has ${count} VxlanNetworks on cluster network ${cn}, the most its VxlanConfig allows (spec.networksPerNamespace ${limit})`);
  const uplinkMtu = acc.configs.find((cfg) => cfg.spec.clusterNetwork === cn)?.spec.uplink.linkAttributes.mtu ?? 1500;
  if (n.spec.mtu !== undefined && n.spec.mtu > uplinkMtu - 50)
    return new InvalidSpecError(r, 'spec.mtu', `${n.spec.mtu} does not fit the uplink MTU ${uplinkMtu} minus 50 bytes of VxLAN overhead`);
  return undefined;
};

const checkVmi: Check<VirtualMachineInstance> = (v, id, acc, nads) => {
  const r = ref(v as unknown as Obj);
  const ns = v.metadata.namespace!;
  for (const [i, nic] of vmiNics(v).entries()) {
    const idx = v.spec.networks.findIndex((n) => n.name === nic.iface);
    const netField = `spec.networks[${idx < 0 ? i : idx}].multus.networkName`;
    const net = acc.networks.get(nic.network);
    // Another namespace's network: the same answer whether it exists or not.
    if (nic.network.split('/')[0] !== ns && (!net || !mayUse(net, ns))) {
      if (!net && nads.has(nic.network)) continue; // another kind of network (VLAN, untagged): multus decides
      return new InvalidSpecError(r, netField, `${nic.network}: no VxlanNetwork this namespace may use`);
    }
    if (!net) {
      if (nads.has(nic.network)) continue; // another kind of network (VLAN, untagged): not ours
      return new InvalidSpecError(r, netField, `${nic.network}: no such VxlanNetwork`);
    }
    if (nic.mac) {
      const field = `spec.domain.devices.interfaces[${nic.iface}].macAddress`;
      const why = reservedMac(nic.mac);
      if (why) return new InvalidSpecError(r, field, `${nic.mac} ${why}`);
      const other = holderOf(acc, 'macs', `${nic.network}/${nic.mac}`, id);
      if (other) return new InvalidSpecError(r, field, `${nic.mac} is already in use${by(other, ns)} in VxlanNetwork ${nic.network}`);
    }
    if (nic.fixedIp) {
      const err = checkFixedIp(r, ns, id, nic.network, net, nic.fixedIp, nic.fixedIpField!, `${nic.vm}/${nic.iface}`, acc);
      if (err) return err;
    }
  }
  return undefined;
};

function checkFixedIp(r: ObjectRef, ns: string, id: string, network: string, net: VxlanNetwork, ip: string, field: string, nic: string, acc: Accepted): InvalidSpecError | undefined {
  const c = parseCidr(net.spec.cidr);
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip) || ip.split('.').some((x) => Number(x) > 255)) return new InvalidSpecError(r, field, `${ip} is not an IPv4 address`);
  if (!cidrContains(c, ip)) return new InvalidSpecError(r, field, `${ip} is not inside ${net.spec.cidr} of VxlanNetwork ${network}`);
  const gw = net.spec.gateway ?? firstHost(c);
  if (isNetworkOrBroadcast(c, ip) || ip === gw) return new InvalidSpecError(r, field, `${ip} is the network, broadcast or gateway address of VxlanNetwork ${network}`);
  if (!poolOf(net).usable(ipToInt(ip))) return new InvalidSpecError(r, field, `${ip} is excluded by spec.excludeIPs of VxlanNetwork ${network}`);
  const requested = holderOf(acc, 'fixedIps', `${network}/${ip}`, id);
  if (requested) return new InvalidSpecError(r, field, `${ip} is already requested${by(requested, ns)} in VxlanNetwork ${network}`);
  const held = holderOf(acc, 'allocIps', `${network}/${ip}`, id);
  if (held && held.nic !== nic) return new InvalidSpecError(r, field, `${ip} is already allocated${held.namespace === ns ? ` to ${held.label}` : ''} in VxlanNetwork ${network}`);
  return undefined;
}

const checkAllocation: Check<VxlanIPAllocation> = (a, id, acc) => {
  const r = ref(a as unknown as Obj);
  const ns = a.metadata.namespace!;
  const net = acc.networks.get(a.spec.network);
  if (net && !mayUse(net, ns)) return new InvalidSpecError(r, 'spec.network', `${a.spec.network}: no VxlanNetwork this namespace may use`);
  if (net && !cidrContains(parseCidr(net.spec.cidr), ipToInt(a.spec.ip)))
    return new InvalidSpecError(r, 'spec.ip', `${a.spec.ip} is not inside ${net.spec.cidr} of VxlanNetwork ${a.spec.network}`);
  const other = holderOf(acc, 'allocIps', `${a.spec.network}/${a.spec.ip}`, id);
  if (other) return new InvalidSpecError(r, 'spec.ip', `${a.spec.ip} is already allocated${other.namespace === ns ? ` to ${other.label}` : ''}`);
  return undefined;
};

/** A status speaks for the node it is named after (what admission checks on Kubernetes, checked again here). */
const checkStatus: Check<VxlanStatus> = (s) => {
  const expected = `${s.status.clusterNetwork}.${s.status.node}`;
  if (s.metadata.name !== expected)
    return new InvalidSpecError(ref(s as unknown as Obj), 'status.node', `${s.status.node} (cluster network ${s.status.clusterNetwork}) does not match the object's name: a VxlanStatus of that node is named ${expected}`);
  return undefined;
};
