/**
 * `lab down`: stops the agents (SIGTERM, then SIGKILL) and, with the Kubernetes source, the controller, the
 * API server relays and the control plane (kube-apiserver, etcd; its data goes with the lab directory,
 * found through the control plane's own state even when lab.json is lost); deletes every `vxm-<lab>-*` namespace and the
 * router namespaces `vxmr-<node>-<vni>` of the lab's nodes (and their DHCP server directories), unmounts
 * the bpffs mounts and removes the lab directory. Leaves nothing behind; running it twice is harmless.
 */
import { readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { DHCP_RUN_DIR, parseServerDir } from '../dataplane/dhcp/index.js';
import { run } from '../util/exec.js';
import { stopAgent } from './agents.js';
import { stopPid } from './processes.js';
import { stopLabApi } from './kube.js';
import { labPaths, labPrefix, readLabState } from './state.js';
import { destroyNamespaces, netnsList } from './topology.js';
import { deleteNetns } from './vms.js';

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Tears the lab down; `nodeNames` adds nodes to clean router namespaces for when lab.json is gone. Returns what was removed. */
export async function labDown(lab: string, nodeNames: string[] = []): Promise<string[]> {
  const s = await readLabState(lab);
  const removed: string[] = [];
  const nodes = new Set([...nodeNames, ...(s?.nodes.map((n) => n.name) ?? [])]);
  for (const n of s?.nodes ?? []) await stopAgent(n);
  await stopLabApi(lab, s);
  // Whatever still runs with the lab's directory on its command line (lab.json lost, a crashed CLI, …).
  for (const pid of await processesUsing(labPaths(lab).dir)) await stopPid(pid);
  removed.push(...(await destroyNamespaces([labPrefix(lab)])));
  const routers = (await netnsList()).filter((ns) => [...nodes].some((n) => new RegExp(`^vxmr-${escape(n)}-\\d+$`).test(ns)));
  for (const ns of routers) await deleteNetns(ns); // also kills the DHCP servers inside
  removed.push(...routers);
  const dhcpDirs = (await readdir(DHCP_RUN_DIR).catch(() => [] as string[])).filter((d) => nodes.has(parseServerDir(d)?.node ?? ''));
  for (const d of dhcpDirs) await rm(path.join(DHCP_RUN_DIR, d), { recursive: true, force: true });
  for (const mnt of await mountsUnder(labPaths(lab).dir)) {
    for (let i = 0; i < 5; i++) {
      const r = await run(['umount', mnt], { allowFailure: true });
      if (r.exitCode !== 0) break;
    }
  }
  await rm(labPaths(lab).dir, { recursive: true, force: true });
  return removed;
}

/** What the lab starts (a user's `tail -f` on a lab log is left alone). */
const LAB_PROGRAMS = new Set(['node', 'nsenter', 'socat', 'udhcpc', 'dnsmasq', 'etcd', 'kube-apiserver']);

/** Lab processes (not this one) with an argument inside `dir`: agents, control plane, relays, controller, clients. */
export async function processesUsing(dir: string): Promise<number[]> {
  const out: number[] = [];
  for (const e of await readdir('/proc').catch(() => [] as string[])) {
    const pid = Number(e);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (!LAB_PROGRAMS.has(path.basename(argv[0] ?? ''))) continue;
    if (argv.some((a) => a === dir || a.includes(`${dir}/`))) out.push(pid);
  }
  return out;
}

/** Mount points at or below `dir` (deepest first). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mounts', 'utf8').catch(() => '');
  const points = text
    .split('\n')
    .map((l) => l.split(' ')[1]?.replace(/\\040/g, ' '))
    .filter((m): m is string => !!m && (m === dir || m.startsWith(`${dir}/`)));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}
