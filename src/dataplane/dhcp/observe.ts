/**
 * Reads the DHCP servers vxmesh runs: every `<runDir>/<node>-<vni>/` directory, the dnsmasq its pid file
 * names (only if that process is a dnsmasq using this very pid file: a reused PID is never taken for ours),
 * the namespace it runs in, its hosts and lease files. Files and /proc only: no processes.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { names } from '../names.js';
import type { ServerObserved } from './plan.js';
import { dhcpFiles } from './spec.js';

const read = (file: string): string | undefined => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
};

const inode = (file: string): number | undefined => {
  try {
    return statSync(file).ino;
  } catch {
    return undefined;
  }
};

/** The command line of a live, non-zombie process. */
export function processCmdline(pid: number): string[] | undefined {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat || stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z') return undefined;
  const raw = read(`/proc/${pid}/cmdline`);
  return raw ? raw.split('\0').filter((x, i, a) => x !== '' || i < a.length - 1) : undefined;
}

/** PID of the dnsmasq serving `dir`, if one runs. */
export function serverPid(dir: string): number | undefined {
  const pidFile = dhcpFiles(dir).pid;
  const pid = Number((read(pidFile) ?? '').trim());
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  const cmd = processCmdline(pid);
  if (!cmd || path.basename(cmd[0] ?? '') !== 'dnsmasq' || !cmd.includes(`--pid-file=${pidFile}`)) return undefined;
  return pid;
}

export function parseServerDir(name: string): { node: string; vni: number } | undefined {
  const m = /^(.+)-(\d+)$/.exec(name);
  return m ? { node: m[1]!, vni: Number(m[2]) } : undefined;
}

export function observeServers(runDir: string): ServerObserved[] {
  let entries: string[];
  try {
    entries = readdirSync(runDir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
  const out: ServerObserved[] = [];
  for (const name of entries.sort()) {
    const id = parseServerDir(name);
    if (!id) continue;
    const dir = path.join(runDir, name);
    const f = dhcpFiles(dir);
    const pid = serverPid(dir);
    const nsIno = inode(`/run/netns/${names.routerNetns(id.node, id.vni)}`);
    const procIno = pid ? inode(`/proc/${pid}/ns/net`) : undefined;
    out.push({
      ...id,
      dir,
      pid,
      cmdline: pid ? processCmdline(pid) : undefined,
      inRouterNs: nsIno !== undefined && nsIno === procIno,
      routerNsExists: nsIno !== undefined,
      hosts: read(f.hosts),
      leases: read(f.leases),
    });
  }
  return out;
}
