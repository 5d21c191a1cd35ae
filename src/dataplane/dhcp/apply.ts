/**
 * Carries out DHCP actions. dnsmasq daemonizes itself (setsid, pid file) so it outlives the agent: a
 * restarted agent finds it by its pid file and keeps it. Bindings change by rewriting the hosts file
 * atomically and sending SIGHUP (no restart, leases kept).
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { run } from '../../util/exec.js';
import { pruneLeases } from './leases.js';
import { processCmdline } from './observe.js';
import type { DhcpAction } from './plan.js';
import { dhcpFiles, type DhcpServerSpec } from './spec.js';

export interface DhcpFailure {
  action: DhcpAction;
  message: string;
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode: 0o644 });
  renameSync(tmp, file);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** SIGTERM, up to 2 s, then SIGKILL; resolves once the process is gone. */
export async function stopServer(pid: number | undefined): Promise<void> {
  if (!pid || !processCmdline(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 40; i++) {
    if (!processCmdline(pid)) return;
    await sleep(50);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  for (let i = 0; i < 40 && processCmdline(pid); i++) await sleep(25);
}

async function startServer(spec: DhcpServerSpec): Promise<void> {
  const f = dhcpFiles(spec.dir);
  mkdirSync(spec.dir, { recursive: true, mode: 0o755 });
  writeAtomic(f.hosts, spec.hosts);
  let leases = '';
  try {
    leases = readFileSync(f.leases, 'utf8');
  } catch {
    /* first start */
  }
  writeAtomic(f.leases, pruneLeases(leases, spec.bindings));
  rmSync(f.pid, { force: true });
  // dnsmasq forks, detaches (setsid) and points its stdio at /dev/null, so this returns at once.
  await run(spec.argv, { netns: spec.ns, timeoutMs: 15_000 });
}

export async function applyDhcp(actions: DhcpAction[]): Promise<DhcpFailure[]> {
  const failures: DhcpFailure[] = [];
  for (const a of actions) {
    try {
      switch (a.op) {
        case 'start':
          await startServer(a.spec);
          break;
        case 'restart':
          await stopServer(a.pid);
          await startServer(a.spec);
          break;
        case 'reload':
          writeAtomic(dhcpFiles(a.spec.dir).hosts, a.spec.hosts);
          process.kill(a.pid, 'SIGHUP');
          break;
        case 'stop':
          await stopServer(a.pid);
          rmSync(a.dir, { recursive: true, force: true });
          break;
      }
    } catch (err) {
      failures.push({ action: a, message: (err as Error).message });
    }
  }
  return failures;
}
