/**
 * vxmesh's CNI plugin: plugs a KubeVirt VM's pod interface into its network's bridge `vxb<vni>`.
 *
 * ADD   a veth pair: CNI_IFNAME in the container's namespace with the VM's MAC (runtimeConfig.mac, else
 *       CNI_ARGS MAC, else a random local one) and the overlay MTU; the node side `vxmc<hash>` with the
 *       same MTU, its alias set to the VM's port binding (port-binding.ts) before it joins the bridge.
 *       A bridge not (yet) on the node is "try again later" (11): the agent builds it on every member
 *       node, and a VM plugged into a bridge no agent serves would be silently cut off.
 * DEL   deletes the node side (the pair goes with it); nothing there is success (idempotent).
 * CHECK compares the attachment with the config and prevResult (CNI >= 0.4.0).
 * STATUS ready while the network's bridge is up on this node (CNI >= 1.1.0), else 50.
 * GC    deletes this network's `vxmc…` ports that belong to no attachment in cni.dev/valid-attachments.
 */
import { randomBytes } from 'node:crypto';
import type { CniEnv } from './env.js';
import { normalizeMac, type CniResult, type VxmeshNetConf } from './config.js';
import { bindingAlias, bindingOf, hostPortName } from './binding.js';
import { CniCode, CniError, compareVersions, LATEST_VERSION, SUPPORTED_VERSIONS } from './spec.js';
import { bridgePorts, containerIp, containerLink, deleteHostLink, hostBatch, hostLink, netnsExists } from './links.js';

/** A random locally administered unicast MAC. */
export function randomMac(): string {
  const b = randomBytes(6);
  b[0] = (b[0]! & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** The MAC the VM's interface gets: the runtime's request (capability `mac`, then CNI_ARGS MAC), else undefined. */
export function requestedMac(conf: VxmeshNetConf, env: CniEnv): string | undefined {
  const asked = conf.runtimeMac ?? env.args.mac;
  if (asked === undefined) return undefined;
  const mac = normalizeMac(asked);
  if (!mac) throw new CniError(CniCode.invalidConfig, `requested MAC ${asked} is not a unicast MAC address`);
  return mac;
}

export interface AddPlan {
  port: string;
  /** `ip -batch` lines in the node's namespace. */
  host: string[];
  /** `ip` arguments in the container's namespace. */
  container: string[];
  result: CniResult;
}

/** What ADD does, decided from its inputs. Pure (apart from the random MACs it is given). */
export function planAdd(conf: VxmeshNetConf, env: CniEnv, alias: string, vmMac: string, hostMac: string, stalePort: boolean): AddPlan {
  const port = hostPortName(env.containerId, env.ifname);
  const mtu = String(conf.mtu);
  const host = [
    ...(stalePort ? [`link del dev ${port}`] : []),
    `link add ${port} mtu ${mtu} address ${hostMac} type veth peer name ${env.ifname} mtu ${mtu} address ${vmMac} netns ${env.netns}`,
    // The binding first: the port must never sit in the bridge unbound-but-plausible.
    `link set dev ${port} alias ${alias}`,
    `link set dev ${port} master ${conf.bridge}`,
    `link set dev ${port} up`,
  ];
  const withMtu = compareVersions(conf.cniVersion, '1.1.0') >= 0;
  return {
    port,
    host,
    container: ['link', 'set', 'dev', env.ifname, 'up'],
    result: {
      cniVersion: conf.cniVersion,
      interfaces: [
        { name: port, mac: hostMac, ...(withMtu ? { mtu: conf.mtu } : {}) },
        { name: env.ifname, mac: vmMac, ...(withMtu ? { mtu: conf.mtu } : {}), sandbox: env.netns },
      ],
      ips: [],
      dns: {},
    },
  };
}

async function requireBridge(conf: VxmeshNetConf, retryCode: number): Promise<void> {
  const br = await hostLink(conf.bridge);
  if (!br || br.kind !== 'bridge') {
    throw new CniError(retryCode, `network ${conf.name} (VNI ${conf.vni}) has no bridge ${conf.bridge} on this node yet`, 'the vxmesh agent builds it on every node of the network\'s cluster network; is it running here?');
  }
  if (!br.up) throw new CniError(retryCode, `bridge ${conf.bridge} of network ${conf.name} is down`);
}

export async function add(conf: VxmeshNetConf, env: CniEnv): Promise<CniResult> {
  const alias = bindingAlias(bindingOf(env.args, env.ifname));
  const vmMac = requestedMac(conf, env) ?? randomMac();
  if (!netnsExists(env.netns)) throw new CniError(CniCode.unknownContainer, `network namespace ${env.netns} does not exist`);
  await requireBridge(conf, CniCode.tryAgainLater);
  const port = hostPortName(env.containerId, env.ifname);
  // A port left by an ADD that failed half-way (no DEL came) is replaced.
  const stale = (await hostLink(port)) !== undefined;
  const plan = planAdd(conf, env, alias, vmMac, randomMac(), stale);
  try {
    await hostBatch(plan.host);
    await containerIp(env.netns, plan.container);
  } catch (err) {
    await deleteHostLink(port).catch(() => false);
    throw new CniError(CniCode.ioFailure, `cannot plug ${env.ifname} of ${env.containerId} into ${conf.bridge}`, err instanceof Error ? err.message : String(err));
  }
  return plan.result;
}

export async function del(_conf: VxmeshNetConf, env: CniEnv): Promise<void> {
  await deleteHostLink(hostPortName(env.containerId, env.ifname));
}

/** Differences between the attachment and what ADD made (empty when it checks out). Pure. */
export function checkProblems(
  conf: VxmeshNetConf,
  env: CniEnv,
  alias: string,
  host: { kind?: string; master?: string; up: boolean; mtu: number; alias?: string } | undefined,
  cont: { up: boolean; mtu: number; mac?: string } | undefined,
): string[] {
  const port = hostPortName(env.containerId, env.ifname);
  const out: string[] = [];
  const prev = conf.prevResult?.interfaces ?? [];
  const prevCont = prev.find((i) => i.name === env.ifname && i.sandbox);
  if (!prevCont) out.push(`prevResult lists no interface ${env.ifname} in a sandbox`);
  if (!prev.some((i) => i.name === port && !i.sandbox)) out.push(`prevResult lists no node-side interface ${port}`);
  if (!host) out.push(`node-side interface ${port} is missing`);
  else {
    if (host.kind !== 'veth') out.push(`${port} is a ${host.kind ?? 'device of unknown kind'}, not a veth`);
    if (host.master !== conf.bridge) out.push(`${port} is in ${host.master ?? 'no bridge'}, not ${conf.bridge}`);
    if (host.alias !== alias) out.push(`${port} is bound to ${host.alias ?? 'nothing'}, not ${alias}`);
    if (host.mtu !== conf.mtu) out.push(`${port} has MTU ${host.mtu}, not ${conf.mtu}`);
    if (!host.up) out.push(`${port} is down`);
  }
  if (!cont) out.push(`${env.ifname} is missing in ${env.netns}`);
  else {
    if (cont.mtu !== conf.mtu) out.push(`${env.ifname} has MTU ${cont.mtu}, not ${conf.mtu}`);
    if (prevCont?.mac && cont.mac?.toLowerCase() !== prevCont.mac.toLowerCase()) out.push(`${env.ifname} has MAC ${cont.mac}, not ${prevCont.mac}`);
    if (!cont.up) out.push(`${env.ifname} is down`);
  }
  return out;
}

export async function check(conf: VxmeshNetConf, env: CniEnv): Promise<void> {
  if (compareVersions(conf.cniVersion, '0.4.0') < 0) throw new CniError(CniCode.incompatibleVersion, `CHECK needs cniVersion 0.4.0 or later (got ${conf.cniVersion})`);
  if (!conf.prevResult) throw new CniError(CniCode.invalidConfig, 'CHECK needs prevResult');
  const alias = bindingAlias(bindingOf(env.args, env.ifname));
  if (!netnsExists(env.netns)) throw new CniError(CniCode.unknownContainer, `network namespace ${env.netns} does not exist`);
  await requireBridge(conf, CniCode.checkFailed);
  const host = await hostLink(hostPortName(env.containerId, env.ifname));
  const cont = await containerLink(env.netns, env.ifname);
  const problems = checkProblems(conf, env, alias, host, cont);
  if (problems.length) throw new CniError(CniCode.checkFailed, `attachment ${env.containerId}/${env.ifname} differs from its ADD`, problems.join('; '));
}

export async function status(conf: VxmeshNetConf): Promise<void> {
  await requireBridge(conf, CniCode.notAvailable);
}

/** GC's input: the attachments still in use (SPEC.md "GC", `cni.dev/valid-attachments`). */
export function validAttachments(raw: unknown): Array<{ containerID: string; ifname: string }> {
  const list = (raw as Record<string, unknown> | undefined)?.['cni.dev/valid-attachments'];
  if (!Array.isArray(list)) return [];
  return list.filter((a): a is { containerID: string; ifname: string } => typeof a?.containerID === 'string' && typeof a?.ifname === 'string');
}

export async function gc(conf: VxmeshNetConf, valid: Array<{ containerID: string; ifname: string }>): Promise<string[]> {
  const keep = new Set(valid.map((a) => hostPortName(a.containerID, a.ifname)));
  const removed: string[] = [];
  for (const p of await bridgePorts(conf.bridge)) {
    if (!/^vxmc[0-9a-f]{8}$/.test(p.name) || keep.has(p.name)) continue;
    if (await deleteHostLink(p.name)) removed.push(p.name);
  }
  return removed;
}

export const versionInfo = () => ({ cniVersion: LATEST_VERSION, supportedVersions: [...SUPPORTED_VERSIONS] });
