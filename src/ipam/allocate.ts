/**
 * IPAM: an address belongs to a VM NIC (namespace/name + interface), not to a node or a pod, so it
 * survives live migration and restarts. Given a snapshot, returns the complete desired set of
 * VxlanIPAllocations: existing ones kept as they are, fixed-IP requests honoured when the address is
 * free (never by renumbering its holder), new NICs given the lowest free address, NICs of deleted VMs
 * released. Pure: the controller (or the lab) persists the result.
 */
import { InvalidSpecError } from '../errors.js';
import { VXMESH_API, keyOf, type Snapshot, type VxlanIPAllocation, type VxlanNetwork } from '../model/schema.js';
import { vmiNics, type VmiNic } from '../model/vmi.js';
import { cidrContains, firstHost, hostRange, intToIp, ipToInt, parseCidr } from '../util/ipv4.js';

export interface AllocateResult {
  allocations: VxlanIPAllocation[];
  errors: InvalidSpecError[];
}

/** Name of the allocation object of one VM NIC (in the VM's namespace). */
export function allocationName(vm: string, iface: string): string {
  return `${vm}.${iface}`.toLowerCase();
}

export function allocate(snapshot: Snapshot): AllocateResult {
  const errors: InvalidSpecError[] = [];
  const out: VxlanIPAllocation[] = [];
  const networks = new Map(snapshot.vxlanNetworks.map((n) => [keyOf(n), n]));
  const existing = new Map(snapshot.allocations.map((a) => [`${a.metadata.namespace}/${a.spec.vm}/${a.spec.interface}`, a]));
  const nicsByNetwork = new Map<string, VmiNic[]>();
  for (const vmi of snapshot.vmis) {
    for (const nic of vmiNics(vmi)) {
      if (!networks.has(nic.network)) continue;
      const list = nicsByNetwork.get(nic.network) ?? [];
      list.push(nic);
      nicsByNetwork.set(nic.network, list);
    }
  }
  for (const [netKey, nics] of [...nicsByNetwork.entries()].sort()) {
    const net = networks.get(netKey)!;
    const pool = poolOf(net);
    const used = new Set<number>();
    const result = new Map<VmiNic, string>();
    // 1. Keep what each NIC already holds (unless the address is no longer valid, or the NIC asks for
    //    another fixed IP): an address in use is never taken away to satisfy someone else's request.
    for (const nic of nics) {
      const a = existing.get(`${nic.namespace}/${nic.name}/${nic.iface}`);
      if (!a || a.spec.network !== netKey || (nic.fixedIp && nic.fixedIp !== a.spec.ip)) continue;
      const n = ipToInt(a.spec.ip);
      if (pool.usable(n) && !used.has(n)) {
        result.set(nic, a.spec.ip);
        used.add(n);
      }
    }
    // 2. Fixed IPs, when free and part of the pool (validation refuses the others first; this is the
    //    last line). A refused request keeps the NIC's current address, if it has one.
    for (const nic of nics) {
      if (!nic.fixedIp || result.has(nic)) continue;
      const n = ipToInt(nic.fixedIp);
      if (pool.usable(n) && !used.has(n)) {
        result.set(nic, nic.fixedIp);
        used.add(n);
        continue;
      }
      errors.push(new InvalidSpecError({ kind: 'VirtualMachineInstance', namespace: nic.namespace, name: nic.name }, nic.fixedIpField ?? 'metadata.annotations',
        `${nic.fixedIp} ${used.has(n) ? 'is already allocated' : 'is not a free address'} in VxlanNetwork ${netKey}`));
      const a = existing.get(`${nic.namespace}/${nic.name}/${nic.iface}`);
      const keep = a && a.spec.network === netKey ? ipToInt(a.spec.ip) : undefined;
      if (keep !== undefined && pool.usable(keep) && !used.has(keep)) {
        result.set(nic, a!.spec.ip);
        used.add(keep);
      } else {
        result.set(nic, ''); // no address rather than a surprise one
      }
    }
    // 3. New NICs: lowest free address, in a stable order (oldest key first).
    let cursor = pool.first;
    for (const nic of [...nics].sort((a, b) => `${a.vm}/${a.iface}`.localeCompare(`${b.vm}/${b.iface}`))) {
      if (result.has(nic)) continue;
      while (cursor <= pool.last && (used.has(cursor) || !pool.usable(cursor))) cursor++;
      if (cursor > pool.last) {
        errors.push(new InvalidSpecError({ kind: 'VxlanNetwork', namespace: net.metadata.namespace, name: net.metadata.name }, 'spec.cidr',
          `${net.spec.cidr} is exhausted: no address left for ${nic.namespace === net.metadata.namespace ? `${nic.vm} ${nic.iface}` : `a VM of another namespace`}`));
        continue;
      }
      result.set(nic, intToIp(cursor));
      used.add(cursor);
    }
    for (const [nic, ip] of result) if (ip) out.push(allocationObject(nic, netKey, ip));
  }
  out.sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  return { allocations: out, errors };
}

function allocationObject(nic: VmiNic, network: string, ip: string): VxlanIPAllocation {
  return {
    apiVersion: VXMESH_API,
    kind: 'VxlanIPAllocation',
    metadata: {
      name: allocationName(nic.name, nic.iface),
      namespace: nic.namespace,
      labels: { 'network.vxmesh.io/network': network.replace('/', '.'), 'network.vxmesh.io/vm': nic.name },
    },
    spec: { network, vm: nic.name, interface: nic.iface, ip, ...(nic.mac ? { mac: nic.mac } : {}) },
  };
}

/** The addresses of a network that can be handed out: hosts minus gateway and excludeIPs. */
export function poolOf(net: VxlanNetwork): { first: number; last: number; usable(n: number): boolean } {
  const c = parseCidr(net.spec.cidr);
  const [first, last] = hostRange(c);
  const gateway = ipToInt(net.spec.gateway ?? firstHost(c));
  const excluded = net.spec.excludeIPs.map((e) => (e.includes('/') ? parseCidr(e) : parseCidr(`${e}/32`)));
  return {
    first,
    last,
    usable: (n) => n >= first && n <= last && n !== gateway && !excluded.some((x) => cidrContains(x, n)),
  };
}
