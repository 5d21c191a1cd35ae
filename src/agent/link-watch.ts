/**
 * Watches the node's links (`ip -o monitor link`, in the agent's network namespace) and reports when a port
 * joins or leaves a vxmesh bridge (vxb<vni>): bridge CNI plugging a new VM, the target of a live migration
 * getting its port, a VM going away. The agent then runs a pass at once instead of at the next resync, so
 * a new port gets its BPF program (and anti-spoofing admits a migrating guest) within milliseconds.
 * `ip monitor` is restarted with backoff if it dies; the periodic resync stays the safety net.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';

/** vxmesh's own devices on the bridge (gateway legs, vxlan devices): their changes come from the agent itself. */
const OWN = /^vx[bgleo]\d+$/;

/** A `ip -o monitor link` line about a port of a vxb bridge other than vxmesh's own devices. */
export function isBridgePortEvent(line: string): boolean {
  const m = /^(?:Deleted )?\d+: ([^:@\s]+)[@:]/.exec(line);
  if (!m || OWN.test(m[1]!)) return false;
  return /\smaster vxb\d+\s/.test(line);
}

export interface LinkWatch {
  close(): void;
}

/**
 * One plug or unplug prints several lines (enslave, up, carrier…): the first is reported at once (a
 * migrating guest waits on it) and the rest become one more call after this quiet time.
 */
const SETTLE_MS = 20;

export function watchLinks(o: { netns?: string; log: Logger; onPortChange: () => void; backoffMs?: number }): LinkWatch {
  let child: ChildProcess | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let settle: NodeJS.Timeout | undefined;
  const changed = () => {
    if (settle) clearTimeout(settle);
    else if (!closed) o.onPortChange();
    settle = setTimeout(() => {
      settle = undefined;
      if (!closed) o.onPortChange();
    }, SETTLE_MS);
  };
  let backoff = o.backoffMs ?? 500;
  const start = () => {
    const argv = [...(o.netns ? ['-n', o.netns] : []), '-o', 'monitor', 'link'];
    const c = spawn('ip', argv, { stdio: ['ignore', 'pipe', 'ignore'] });
    child = c;
    createInterface({ input: c.stdout! }).on('line', (line) => {
      backoff = o.backoffMs ?? 500;
      if (isBridgePortEvent(line)) changed();
    });
    c.on('error', (err) => o.log.warn({ err: err.message }, 'link monitor failed to start'));
    c.on('exit', (code) => {
      if (closed) return;
      o.log.warn({ code, retryMs: backoff }, 'link monitor exited; new ports wait for the resync until it is back');
      timer = setTimeout(start, backoff);
      backoff = Math.min(backoff * 2, 30_000);
    });
  };
  start();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      clearTimeout(settle);
      child?.kill();
    },
  };
}
