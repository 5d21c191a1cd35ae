/**
 * Network-namespace plumbing for the lab and the integration tests: an underlay switch, hosts (nodes and
 * the external host) uplinked to it, and VMs whose port is plugged into a node's bridge the way bridge CNI
 * does it (and moved between nodes the way KubeVirt live migration moves a VM).
 * Everything is named `<prefix>-…` (prefix starts with "vxm"); nothing here touches the root namespace
 * except creating/deleting named namespaces and veth pairs that are moved away at once.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run, start } from '../util/exec.js';
import { fnv1aHex } from '../util/hash.js';
import { formatPortBinding, type PortBinding } from '../dataplane/port-binding.js';

export const UNDERLAY_BRIDGE = 'vxmsw0';

export const nsName = (prefix: string, name: string) => `${prefix}-${name}`;

export async function netnsList(): Promise<string[]> {
  const r = await run(['ip', '-j', 'netns', 'list'], { allowFailure: true });
  if (!r.stdout.trim()) return [];
  return (JSON.parse(r.stdout) as Array<{ name: string }>).map((n) => n.name);
}

export async function addNetns(name: string): Promise<void> {
  await run(['ip', 'netns', 'add', name]);
  await run(['ip', 'link', 'set', 'lo', 'up'], { netns: name });
}

/** The underlay switch: netns `<prefix>-ul` holding bridge vxmsw0. */
export async function createUnderlay(prefix: string): Promise<string> {
  const ns = nsName(prefix, 'ul');
  await addNetns(ns);
  await run(['ip', 'link', 'add', UNDERLAY_BRIDGE, 'type', 'bridge'], { netns: ns });
  await run(['ip', 'link', 'set', UNDERLAY_BRIDGE, 'up'], { netns: ns });
  return ns;
}

/**
 * A host on the underlay: netns `<prefix>-<name>` with uplink `ifname` carrying `address` (CIDR form),
 * its peer plugged into the switch. Returns the namespace name.
 */
export async function addHost(prefix: string, name: string, address: string, ifname = 'vxmu0', mtu = 1500): Promise<string> {
  const ns = nsName(prefix, name);
  const sw = nsName(prefix, 'ul');
  await addNetns(ns);
  const swPort = `vxms${shortHash(ns)}`;
  await run(['ip', 'link', 'add', ifname, 'mtu', String(mtu), 'type', 'veth', 'peer', 'name', swPort, 'mtu', String(mtu), 'netns', sw], { netns: ns });
  await run(['ip', 'link', 'set', swPort, 'master', UNDERLAY_BRIDGE, 'up'], { netns: sw });
  await run(['ip', 'addr', 'add', address, 'dev', ifname], { netns: ns });
  await run(['ip', 'link', 'set', ifname, 'up'], { netns: ns });
  await run(['sysctl', '-qw', 'net.ipv4.ip_forward=1'], { netns: ns });
  return ns;
}

export interface VmSpec {
  /** VM namespace name. */
  netns: string;
  /** Node namespace the VM's port lives in. */
  nodeNetns: string;
  /** Host-side port name (≤ 15 chars, vxm…). */
  port: string;
  /** Bridge the port is plugged into (vxb<vni>). */
  bridge: string;
  mac: string;
  /** Guest address in CIDR form, or undefined to leave the guest unconfigured (DHCP). */
  address?: string;
  gateway?: string;
  mtu: number;
  /** Guest interface name. */
  ifname?: string;
  /** The VM NIC the port belongs to (dataplane/port-binding.ts), set on the port as the CNI plugin would. */
  binding?: PortBinding;
}

/** Creates the VM namespace and its NIC, and plugs the port into the node's bridge (as bridge CNI would). */
export async function addVm(vm: VmSpec): Promise<void> {
  const ifname = vm.ifname ?? 'eth0';
  await addNetns(vm.netns);
  await run(['ip', 'link', 'add', ifname, 'address', vm.mac, 'mtu', String(vm.mtu), 'type', 'veth', 'peer', 'name', vm.port, 'mtu', String(vm.mtu), 'netns', vm.nodeNetns], { netns: vm.netns });
  await plugPort(vm.nodeNetns, vm.port, vm.bridge, vm.binding);
  if (vm.address) await run(['ip', 'addr', 'add', vm.address, 'dev', ifname], { netns: vm.netns });
  await run(['ip', 'link', 'set', ifname, 'up'], { netns: vm.netns });
  if (vm.address && vm.gateway) await run(['ip', 'route', 'add', 'default', 'via', vm.gateway], { netns: vm.netns });
}

/**
 * Bridge CNI's part: create the bridge if it is missing, then enslave the port and bring it up; and
 * vxmesh's CNI part: bind the port to its VM NIC (port-binding.ts) before it joins the bridge.
 */
export async function plugPort(nodeNetns: string, port: string, bridge: string, binding?: PortBinding): Promise<void> {
  if (binding) await run(['ip', 'link', 'set', port, 'alias', formatPortBinding(binding)], { netns: nodeNetns });
  const exists = await run(['ip', 'link', 'show', bridge], { netns: nodeNetns, allowFailure: true });
  if (exists.exitCode !== 0) {
    await run(['ip', 'link', 'add', bridge, 'type', 'bridge'], { netns: nodeNetns, allowFailure: true });
    await run(['ip', 'link', 'set', bridge, 'up'], { netns: nodeNetns });
  }
  await run(['ip', 'link', 'set', port, 'master', bridge], { netns: nodeNetns });
  // As vxmesh-cni does: the host end gets no IPv6 link-local, so the node sends nothing IPv6 into the VM.
  await run(['ip', 'link', 'set', port, 'addrgenmode', 'none'], { netns: nodeNetns, allowFailure: true });
  await run(['ip', 'link', 'set', port, 'up'], { netns: nodeNetns });
}

/** Live migration's part: move the VM's port to another node namespace and plug it there. */
export async function moveVmPort(port: string, fromNetns: string, toNetns: string, bridge: string): Promise<void> {
  // Two commands, as little switchover as the lab can emulate (KubeVirt's target port is plugged before
  // the guest moves); the port keeps its alias (the binding) across namespaces. The bridge exists on the
  // target since the agent there was told of the migration; plugPort makes it if not.
  await run(['ip', '-n', fromNetns, 'link', 'set', port, 'netns', toNetns]);
  const r = await run(['ip', '-n', toNetns, 'link', 'set', port, 'master', bridge, 'up'], { allowFailure: true });
  if (r.exitCode !== 0) await plugPort(toNetns, port, bridge);
}

/** The guest's IPv4 state on one NIC, as QEMU carries it to the target inside the guest's memory. */
export interface GuestNicState {
  /** The guest's interface (eth0, …) and the target pod's interface that takes its place. */
  ifname: string;
  podIfname: string;
  /** Addresses in CIDR form, and the routes through the NIC that the address did not make itself. */
  addresses: string[];
  routes: Array<{ dst: string; gateway?: string; metric?: number }>;
}

/** Reads a guest NIC's IPv4 addresses and routes (`ip -j`), for guestSwitchBatch. */
export async function guestNicState(netns: string, ifname: string, podIfname: string): Promise<GuestNicState> {
  const addrs = JSON.parse((await run(['ip', '-j', '-4', 'addr', 'show', 'dev', ifname], { netns })).stdout || '[]') as Array<{ addr_info?: Array<{ local: string; prefixlen: number }> }>;
  const routes = JSON.parse((await run(['ip', '-j', '-4', 'route', 'show', 'dev', ifname], { netns })).stdout || '[]') as Array<{ dst: string; gateway?: string; metric?: number; protocol?: string }>;
  return {
    ifname, podIfname,
    addresses: addrs.flatMap((a) => a.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`),
    routes: routes.filter((r) => r.protocol !== 'kernel').map((r) => ({ dst: r.dst, ...(r.gateway ? { gateway: r.gateway } : {}), ...(r.metric !== undefined ? { metric: r.metric } : {}) })),
  };
}

/**
 * Pure: the `ip -batch` that switches a guest from its source NICs to the target pod's (already in the
 * guest's namespace): each old NIC down and renamed `vxmold<i>` (its pod's CNI DEL removes it), the target's
 * interface renamed to the guest's name, given the guest's addresses, up; then the routes, default last.
 */
export function guestSwitchBatch(nics: GuestNicState[]): string[] {
  const lines: string[] = [];
  nics.forEach((n, i) => {
    lines.push(`link set dev ${n.ifname} down`, `link set dev ${n.ifname} name vxmold${i}`, `link set dev ${n.podIfname} name ${n.ifname}`);
    for (const a of n.addresses) lines.push(`addr add ${a} dev ${n.ifname}`);
    lines.push(`link set dev ${n.ifname} up`);
  });
  const routes = nics.flatMap((n) => n.routes.map((r) => ({ ...r, dev: n.ifname })));
  routes.sort((a, b) => Number(a.dst === 'default') - Number(b.dst === 'default'));
  for (const r of routes) lines.push(`route add ${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev}${r.metric !== undefined ? ` metric ${r.metric}` : ''}`);
  return lines;
}

/** QEMU's announce-rounds and the time between them (announce-step): 5 rounds, 100 ms apart. */
export const ANNOUNCE_ROUNDS = 5;
const ANNOUNCE_STEP_S = '0.1';

/**
 * Pure: the script armSwitchover runs in the guest's namespace. It waits for a line on stdin, moves the
 * target pod's interfaces in (`move`, an `ip -batch` run in the sandbox), switches the NICs (`switch`),
 * says `switched`, then announces every NIC in rounds. This arping takes whole seconds only for -i and
 * waits a second after its last probe, so each round is an arping of its own, started 100 ms apart; the
 * script fails (exit 6, arping's error on stderr) if any of them does.
 */
export function switchoverScript(sandbox: string, move: string, sw: string, announce: Array<{ ifname: string; ip: string }>): string {
  const rounds = Array.from({ length: ANNOUNCE_ROUNDS }, (_, r) => [
    ...announce.map((a) => `arping -U -c 1 -I ${a.ifname} ${a.ip} >/dev/null & pids="$pids $!"`),
    ...(r < ANNOUNCE_ROUNDS - 1 ? [`sleep ${ANNOUNCE_STEP_S}`] : []),
  ]).flat();
  return [
    'read go || exit 3',
    `ip -n ${sandbox} -batch ${move} || exit 4`,
    `ip -batch ${sw} || exit 5`,
    'echo switched',
    'pids=',
    ...rounds,
    'rc=0',
    'for p in $pids; do wait "$p" || rc=6; done',
    'exit $rc',
  ].join('\n') + '\n';
}

/** An armed switchover (armSwitchover): `go` fires it and resolves once the guest runs on the target's NICs. */
export interface Switchover {
  go(): Promise<void>;
  /** Settles when the announcements are sent (or the switchover failed: then it rejects). */
  done: Promise<void>;
}

/**
 * Live migration's switchover, armed before it happens (KubeVirt: the guest stops on the source and resumes
 * on the target, whose pod was plugged before, and QEMU announces it at once): a shell in the guest's
 * namespace waits for the word, then moves the target pod's interfaces in from its sandbox, hands them the
 * guest's NICs (guestSwitchBatch) and sends the announcements — gratuitous ARPs in rounds (QEMU's
 * announce-rounds, switchoverScript; arping -U is the equivalent) — with no start of a process of the lab's
 * in between. `dir` holds the two batch files and the script.
 */
export async function armSwitchover(guestNetns: string, sandbox: string, nics: GuestNicState[], announce: Array<{ ifname: string; ip: string }>, dir: string): Promise<Switchover> {
  const file = (name: string) => path.join(dir, `${guestNetns}.${name}`);
  await writeFile(file('move'), nics.map((n) => `link set dev ${n.podIfname} netns ${guestNetns}`).join('\n') + '\n');
  await writeFile(file('switch'), guestSwitchBatch(nics).join('\n') + '\n');
  await writeFile(file('sh'), switchoverScript(sandbox, file('move'), file('switch'), announce));
  const child = start(['sh', file('sh')], { netns: guestNetns, timeoutMs: 60_000 });
  const switched = new Promise<void>((resolve) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('switched')) resolve();
    });
  });
  const done = child.then((r) => {
    if (r.exitCode !== 0) throw new Error(`the switchover of ${guestNetns} failed (exit ${r.exitCode}): ${String(r.stderr).trim()}`);
  });
  return {
    async go() {
      child.stdin!.end('go\n');
      await Promise.race([switched, done]);
    },
    done,
  };
}

/** Deletes every namespace whose name starts with `<prefix>-` (and any extra names given); tolerant of half-done setups. */
export async function destroyNamespaces(prefixes: string[]): Promise<string[]> {
  const all = await netnsList();
  const doomed = all.filter((n) => prefixes.some((p) => n.startsWith(`${p}-`) || n === p));
  for (const n of doomed) {
    // Kill whatever still runs inside (agents, servers) before the namespace goes.
    await run(['ip', 'netns', 'pids', n], { allowFailure: true }).then(async (r) => {
      const pids = r.stdout.split(/\s+/).filter(Boolean);
      if (pids.length) await run(['kill', '-9', ...pids], { allowFailure: true });
    });
    await run(['ip', 'netns', 'del', n], { allowFailure: true });
  }
  return doomed;
}

/** 6 hex chars, stable for a given string (names derived from long names must fit in 15 chars). */
export function shortHash(s: string): string {
  return fnv1aHex(s).slice(0, 6);
}
