/**
 * The uplink's side effects: observe the node's links and whether it can bond, plan (uplink-plan.ts,
 * pure), run the plan's steps (only ever on the bond vxmesh owns). A listing that fails throws: the pass
 * stops before the dataplane instead of reading "no uplink".
 */
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import { run, runJson } from '../util/exec.js';
import type { VxlanConfig } from '../model/schema.js';
import { planUplink, type UplinkFacts, type UplinkLink, type UplinkPlan } from './uplink-plan.js';

interface IpLinkJson {
  ifname: string;
  flags?: string[];
  mtu?: number;
  master?: string;
  ifalias?: string;
  addr_info?: Array<{ family?: string; local?: string; prefixlen?: number; scope?: string }>;
  linkinfo?: { info_kind?: string; info_data?: { mode?: string; miimon?: number } };
}

/** Pure: `ip -j -d addr show` output -> the fields the plan needs. */
export function parseUplinkLinks(json: IpLinkJson[]): UplinkLink[] {
  return json.map((l) => ({
    name: l.ifname,
    kind: l.linkinfo?.info_kind,
    ...(l.master ? { master: l.master } : {}),
    up: (l.flags ?? []).includes('UP'),
    mtu: l.mtu ?? 0,
    // Global IPv4 only: what can be a VTEP, and what vxmesh would take from a nic by enslaving it.
    addrs: (l.addr_info ?? []).filter((a) => a.family === 'inet' && a.local && (a.scope ?? 'global') === 'global').map((a) => `${a.local}/${a.prefixlen ?? 32}`),
    ...(l.ifalias ? { alias: l.ifalias } : {}),
    ...(l.linkinfo?.info_kind === 'bond' ? { bond: { mode: l.linkinfo.info_data?.mode, miimon: l.linkinfo.info_data?.miimon } } : {}),
  }));
}

const BONDING_MASTERS = '/sys/class/net/bonding_masters';
let modprobeTried: { available: boolean; why?: string } | undefined;

/** Can this node create bonds? Loads the bonding module once when it is not there yet. */
export async function bondingFacts(): Promise<UplinkFacts['bonding']> {
  if (existsSync(BONDING_MASTERS)) return { available: true };
  if (!modprobeTried) {
    const r = await run(['modprobe', 'bonding'], { allowFailure: true }).catch((err: Error) => ({ exitCode: -1, stderr: err.message, stdout: '' }));
    const why = `${BONDING_MASTERS} missing and modprobe bonding ${r.exitCode === 0 ? 'did not create it' : `failed: ${r.stderr.trim().split('\n').pop() || `exit ${r.exitCode}`}`}`;
    modprobeTried = existsSync(BONDING_MASTERS) ? { available: true } : { available: false, why };
  }
  return modprobeTried;
}

export async function observeUplinkFacts(netns: string | undefined, needBonding: boolean): Promise<UplinkFacts> {
  const json = await runJson<IpLinkJson[]>(['ip', '-j', '-d', 'addr', 'show'], { netns });
  return { links: parseUplinkLinks(json), bonding: needBonding ? await bondingFacts() : { available: false, why: 'not needed' } };
}

export interface UplinkOutcome {
  plans: UplinkPlan[];
  /** The links as listed before the steps ran. */
  links: UplinkLink[];
  /** Steps that failed (the plan's problem is set for their cluster network). */
  failed: Array<{ clusterNetwork: string; argv: string[]; message: string }>;
}

/** Plans and brings up the uplink of each config (one per cluster network); throws only when the links cannot be listed. */
export async function ensureUplinks(configs: VxlanConfig[], o: { netns?: string; log: Logger }): Promise<UplinkOutcome> {
  if (!configs.length) return { plans: [], links: [], failed: [] };
  const facts = await observeUplinkFacts(o.netns, configs.some((c) => c.spec.uplink.nics.length > 1));
  const plans: UplinkPlan[] = [];
  const failed: UplinkOutcome['failed'] = [];
  for (const cfg of configs) {
    const u = cfg.spec.uplink;
    const plan = planUplink({ clusterNetwork: cfg.spec.clusterNetwork, nics: u.nics, mtu: u.linkAttributes.mtu, bondOptions: u.bondOptions }, facts);
    for (const n of plan.notes) o.log.warn({ clusterNetwork: plan.clusterNetwork, iface: plan.device }, n);
    if (plan.problem) o.log.warn({ clusterNetwork: plan.clusterNetwork, iface: plan.device, reason: plan.problem.reason, err: plan.problem.message }, 'uplink not ready');
    for (const argv of plan.steps) {
      const r = await run(argv, { netns: o.netns, allowFailure: true });
      if (r.exitCode === 0) {
        o.log.info({ clusterNetwork: plan.clusterNetwork, iface: plan.device, op: argv.slice(2).join(' ') }, 'uplink changed');
        continue;
      }
      const message = `${argv.join(' ')}: ${r.stderr.trim()}`;
      failed.push({ clusterNetwork: plan.clusterNetwork, argv, message });
      plan.problem ??= { reason: 'UplinkSetupFailed', message };
      break;
    }
    plans.push(plan);
  }
  return { plans, links: facts.links, failed };
}
