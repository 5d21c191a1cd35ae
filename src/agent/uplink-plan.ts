/**
 * The uplink of a cluster network on one node, as Harvester's network controller lays it out and the
 * VxLAN HEP asks: the VxlanConfig's `uplink` (nics, bondOptions, linkAttributes) becomes one device whose
 * address is the VTEP and over which the tunnels leave. Pure: observed links + kernel facts -> a plan.
 *
 * Which device, in this order:
 *  1. `<cn>-br` exists: Harvester's cluster-network bridge (its bond `<cn>-bo` is a port of it). Reused as is.
 *  2. `<cn>-bo` exists and vxmesh did not create it: Harvester's (or the operator's) bond. Reused as is.
 *  3. one nic: that nic, as is.
 *  4. several nics: a bond `<cn>-bo` that vxmesh creates and owns (interface alias `vxmesh-uplink/<cn>`),
 *     with `bondOptions` (mode, miimon) and `linkAttributes.mtu`; the nics become its ports.
 *
 * What vxmesh changes, and only in case 4: it creates `<cn>-bo`, sets its mode/miimon, MTU and up state,
 * and makes a listed nic its port when that nic has no IPv4 address and no master (a nic carrying an
 * address or held by another device is refused, with a reason, never taken). It never changes a nic's
 * addresses or routes, never touches a device it did not create, and `--cleanup` leaves the uplink (the
 * node's underlay connectivity) in place. A node whose kernel cannot bond gets the reason
 * `BondingUnavailable` (VtepReady=False); nothing is created.
 */

export const UPLINK_ALIAS_PREFIX = 'vxmesh-uplink/';

export interface UplinkLink {
  name: string;
  kind?: string;
  master?: string;
  up: boolean;
  mtu: number;
  /** IPv4 addresses in CIDR form. */
  addrs: string[];
  alias?: string;
  /** Bond attributes (kind bond). */
  bond?: { mode?: string; miimon?: number };
}

export interface UplinkSpec {
  clusterNetwork: string;
  nics: string[];
  mtu?: number;
  bondOptions?: { mode: string; miimon?: number };
}

export interface UplinkFacts {
  links: UplinkLink[];
  /** The kernel can create bonds (/sys/class/net/bonding_masters exists, or `modprobe bonding` worked). */
  bonding: { available: boolean; why?: string };
}

export type UplinkSource = 'harvester-bridge' | 'existing-bond' | 'nic' | 'vxmesh-bond';

export type UplinkProblemReason = 'BondingUnavailable' | 'NicMissing' | 'NicInUse' | 'UplinkSetupFailed';

export interface UplinkPlan {
  clusterNetwork: string;
  /** The device whose first global IPv4 is the VTEP address and under which the tunnels leave. */
  device: string;
  source: UplinkSource;
  /** `ip` argv to run, in order (only for the bond vxmesh owns). */
  steps: string[][];
  /** Why the uplink cannot be (fully) brought up: reported as VtepReady=False with this reason. */
  problem?: { reason: UplinkProblemReason; message: string };
  /** Observations worth a log line that change nothing (e.g. a reused device's MTU differs from linkAttributes). */
  notes: string[];
}

export const bondName = (cn: string) => `${cn}-bo`;
export const bridgeName = (cn: string) => `${cn}-br`;
export const uplinkAlias = (cn: string) => `${UPLINK_ALIAS_PREFIX}${cn}`;
const DEFAULT_BOND_MODE = 'active-backup';

export function planUplink(spec: UplinkSpec, facts: UplinkFacts): UplinkPlan {
  const cn = spec.clusterNetwork;
  const byName = new Map(facts.links.map((l) => [l.name, l]));
  const base = { clusterNetwork: cn, steps: [] as string[][], notes: [] as string[] };
  const reuse = (l: UplinkLink, source: UplinkSource): UplinkPlan => ({
    ...base, device: l.name, source, notes: mtuNote(l, spec.mtu),
  });
  const br = byName.get(bridgeName(cn));
  if (br) return reuse(br, 'harvester-bridge');
  const bo = byName.get(bondName(cn));
  if (bo && bo.alias !== uplinkAlias(cn)) return reuse(bo, 'existing-bond');
  if (spec.nics.length === 1) {
    const nic = spec.nics[0]!;
    const l = byName.get(nic);
    if (!l) return { ...base, device: nic, source: 'nic', problem: { reason: 'NicMissing', message: `uplink nic ${nic} does not exist on this node` } };
    return reuse(l, 'nic');
  }
  return planBond(spec, facts, byName, bo);
}

function planBond(spec: UplinkSpec, facts: UplinkFacts, byName: Map<string, UplinkLink>, bo: UplinkLink | undefined): UplinkPlan {
  const cn = spec.clusterNetwork;
  const name = bondName(cn);
  const plan: UplinkPlan = { clusterNetwork: cn, device: name, source: 'vxmesh-bond', steps: [], notes: [] };
  if (!bo && !facts.bonding.available) {
    plan.problem = {
      reason: 'BondingUnavailable',
      message: `uplink ${spec.nics.join(',')} needs bond ${name}, but this node cannot bond: ${facts.bonding.why ?? 'no bonding driver'}`,
    };
    return plan;
  }
  const missing = spec.nics.filter((n) => !byName.has(n));
  if (missing.length) {
    plan.problem = { reason: 'NicMissing', message: `uplink nic(s) ${missing.join(', ')} of bond ${name} do not exist on this node` };
    return plan;
  }
  const inUse = spec.nics
    .map((n) => byName.get(n)!)
    .filter((l) => l.master !== name && (l.master !== undefined || l.addrs.length > 0))
    .map((l) => (l.master !== undefined ? `${l.name} is a port of ${l.master}` : `${l.name} carries ${l.addrs.join(', ')}`));
  if (inUse.length) {
    plan.problem = { reason: 'NicInUse', message: `bond ${name}: vxmesh takes only free nics (no master, no address): ${inUse.join('; ')}` };
    return plan;
  }
  const mode = spec.bondOptions?.mode ?? DEFAULT_BOND_MODE;
  const miimon = spec.bondOptions?.miimon;
  const opts = ['mode', mode, ...(miimon !== undefined ? ['miimon', String(miimon)] : [])];
  const differs = bo && (bo.bond?.mode !== mode || (miimon !== undefined && bo.bond?.miimon !== miimon));
  if (differs) {
    plan.notes.push(`bond ${name} has mode ${bo.bond?.mode ?? '?'} miimon ${bo.bond?.miimon ?? '?'}, want ${mode} miimon ${miimon ?? 'default'}: recreated`);
    plan.steps.push(['ip', 'link', 'del', name]);
  }
  const fresh = !bo || differs;
  if (fresh) {
    plan.steps.push(['ip', 'link', 'add', name, 'type', 'bond', ...opts]);
    plan.steps.push(['ip', 'link', 'set', name, 'alias', uplinkAlias(cn)]);
  }
  for (const nic of spec.nics) {
    const l = byName.get(nic)!;
    if (!fresh && l.master === name) continue;
    // A bond takes only ports that are down; it brings them up itself.
    if (l.up) plan.steps.push(['ip', 'link', 'set', nic, 'down']);
    plan.steps.push(['ip', 'link', 'set', nic, 'master', name]);
  }
  if (spec.mtu !== undefined && (fresh || bo!.mtu !== spec.mtu)) plan.steps.push(['ip', 'link', 'set', name, 'mtu', String(spec.mtu)]);
  if (fresh || !bo!.up) plan.steps.push(['ip', 'link', 'set', name, 'up']);
  return plan;
}

function mtuNote(l: UplinkLink, mtu: number | undefined): string[] {
  if (mtu === undefined || l.mtu === mtu) return [];
  return [`uplink ${l.name} has MTU ${l.mtu}, VxlanConfig linkAttributes.mtu is ${mtu}: vxmesh does not change a device it does not own`];
}
