/**
 * The commands the agent runs on its node, and the Debian package of each: checked once at start so that a
 * node (or an image) without one fails with a message naming the package, not with an ENOENT in the middle
 * of a reconcile. The image (deploy/Dockerfile) installs exactly these packages; a test keeps the three —
 * this table, the image and the commands the code runs — in step.
 */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { VxmeshError } from '../errors.js';

export interface NodeTool {
  pkg: string;
  /** Without it the agent cannot work at all; else only what it serves (e.g. DHCP) fails. */
  required: boolean;
  why: string;
}

export const NODE_TOOLS: Record<string, NodeTool> = {
  ip: { pkg: 'iproute2', required: true, why: 'links, addresses, routes, neighbours, network namespaces' },
  bridge: { pkg: 'iproute2', required: true, why: 'static FDB entries (kernel mode)' },
  tc: { pkg: 'iproute2', required: true, why: 'clsact qdiscs for the BPF programs' },
  nft: { pkg: 'nftables', required: true, why: 'gateway NAT, VTEP filter, policies (kernel mode)' },
  sysctl: { pkg: 'procps', required: true, why: 'ip_forward in router namespaces' },
  mount: { pkg: 'mount', required: true, why: 'bpffs' },
  umount: { pkg: 'mount', required: false, why: 'bpffs (cleanup only)' },
  dnsmasq: { pkg: 'dnsmasq-base', required: false, why: 'DHCP for networks with spec.dhcp' },
  modprobe: { pkg: 'kmod', required: false, why: 'the bonding driver, for an uplink of several nics' },
};

export class PreflightError extends VxmeshError {
  constructor(message: string) {
    super('PREFLIGHT', message);
  }
}

/** Tools of NODE_TOOLS that are not an executable file on `searchPath`. */
export function missingTools(searchPath = process.env.PATH ?? ''): string[] {
  const dirs = searchPath.split(':').filter(Boolean);
  const found = (tool: string) =>
    dirs.some((d) => {
      try {
        accessSync(path.join(d, tool), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  return Object.keys(NODE_TOOLS).filter((t) => !found(t));
}

/** Throws for missing required tools; returns a warning line for missing optional ones (undefined: none). */
export function preflight(searchPath?: string): string | undefined {
  const missing = missingTools(searchPath);
  const line = (ts: string[]) => ts.map((t) => `${t} (Debian package ${NODE_TOOLS[t]!.pkg}: ${NODE_TOOLS[t]!.why})`).join(', ');
  const required = missing.filter((t) => NODE_TOOLS[t]!.required);
  if (required.length) throw new PreflightError(`this node lacks commands the agent needs: ${line(required)}; install them (PATH=${searchPath ?? process.env.PATH ?? ''})`);
  const optional = missing.filter((t) => !NODE_TOOLS[t]!.required);
  return optional.length ? `missing optional commands: ${line(optional)}` : undefined;
}
