/**
 * The lab guests' DHCP client: BusyBox udhcpc in the VM namespace, as a stock guest image runs one, kept
 * running (renewals) as a detached process recorded in lab.json. Its event script is vxmesh's own (never
 * the default one: that would write the host's /etc/resolv.conf): it sets the address/prefix, the
 * default route and the MTU (option 26) on the guest NIC and records the lease (ip, router, mtu, dns,
 * search, server) in `leases/<vm>.<ifname>.json` under the lab directory. DNS is only recorded.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { run } from '../util/exec.js';
import { isAlive, sleep, spawnDetached } from './processes.js';
import { labPaths, type LabState, type LabVmState } from './state.js';

export const UDHCPC_SCRIPT = `#!/bin/sh
# vxmesh lab guest: udhcpc event script. Configures $interface from the lease and records the lease in
# $VXMESH_LEASE_FILE. Never touches /etc/resolv.conf (DNS servers and search domains are only recorded).
event="$1"
file="$VXMESH_LEASE_FILE"
case "$event" in
  deconfig)
    ip -4 addr flush dev "$interface"
    ip link set dev "$interface" up
    rm -f "$file"
    ;;
  bound|renew)
    set -- $(ip -br -4 addr show dev "$interface")
    if [ "\${3:-}" != "$ip/$mask" ]; then
      ip -4 addr flush dev "$interface"
      ip addr add "$ip/$mask" dev "$interface"
    fi
    [ -n "\${mtu:-}" ] && ip link set dev "$interface" mtu "$mtu"
    [ -n "\${router:-}" ] && ip route replace default via "\${router%% *}" dev "$interface"
    tmp="$file.tmp.$$"
    printf '{"event":"%s","ip":"%s","prefixLen":%s,"router":"%s","mtu":%s,"dns":"%s","domain":"%s","search":"%s","server":"%s","leaseTime":%s,"atMs":%s}\\n' \\
      "$event" "$ip" "$mask" "\${router:-}" "\${mtu:-null}" "\${dns:-}" "\${domain:-}" "\${search:-}" "\${serverid:-}" "\${lease:-null}" "$(date +%s%3N)" > "$tmp"
    mv "$tmp" "$file"
    ;;
esac
exit 0
`;

export const leaseSchema = z.object({
  event: z.string(),
  ip: z.string(),
  prefixLen: z.number(),
  router: z.string(),
  mtu: z.number().nullable(),
  dns: z.string(),
  domain: z.string(),
  search: z.string(),
  server: z.string(),
  leaseTime: z.number().nullable(),
  atMs: z.number(),
});
export type GuestLease = z.infer<typeof leaseSchema>;

/** Writes the event script and the leases directory (idempotent). */
export function prepareDhcpClients(lab: string): void {
  const p = labPaths(lab);
  mkdirSync(p.leases, { recursive: true });
  writeFileSync(p.dhcpScript, UDHCPC_SCRIPT);
  chmodSync(p.dhcpScript, 0o755);
}

export function udhcpcArgv(lab: string, vm: LabVmState, ifname: string): string[] {
  const p = labPaths(lab);
  return [
    'ip', 'netns', 'exec', vm.netns, 'env', `VXMESH_LEASE_FILE=${p.lease(vm.name, ifname)}`,
    // -f foreground (we detach it), -O: ask for MTU and search domains too; retry every second, 2 s pause.
    'udhcpc', '-f', '-i', ifname, '-s', p.dhcpScript, '-O', 'mtu', '-O', 'search', '-t', '5', '-T', '1', '-A', '2',
  ];
}

/** Starts the guest's DHCP clients (one per DHCP NIC) and records their PIDs on the VM. */
export function startDhcpClients(s: LabState, vm: LabVmState): void {
  prepareDhcpClients(s.lab);
  vm.dhcpClients = vm.interfaces
    .filter((n) => n.dhcp)
    .map((n) => ({ ifname: n.ifname, pid: spawnDetached(udhcpcArgv(s.lab, vm, n.ifname), labPaths(s.lab).log(`dhcp-${vm.name}`)) }));
}

export function readLease(lab: string, vm: string, ifname: string): GuestLease | undefined {
  try {
    const r = leaseSchema.safeParse(JSON.parse(readFileSync(labPaths(lab).lease(vm, ifname), 'utf8')));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/** SIGUSR1 to the guest's DHCP clients: a renewal when bound, an immediate DISCOVER when not. */
export function kickDhcpClients(vm: LabVmState): void {
  for (const c of vm.dhcpClients ?? []) {
    if (!isAlive(c.pid)) continue;
    try {
      process.kill(c.pid, 'SIGUSR1');
    } catch {
      /* gone */
    }
  }
}

/**
 * Waits until every DHCP NIC of `vms` holds a lease for its allocation recorded after `sinceMs`; kicks the
 * clients once at the start (agents were just made ready). Returns the NICs still waiting (`vm/ifname`).
 */
export async function waitLeases(s: LabState, vms: LabVmState[], sinceMs = 0, timeoutMs = 15_000): Promise<string[]> {
  const pending = () =>
    vms.flatMap((vm) =>
      vm.interfaces
        .filter((n) => n.dhcp)
        .filter((n) => {
          const l = readLease(s.lab, vm.name, n.ifname);
          return !l || l.ip !== n.ip || l.atMs < sinceMs;
        })
        .map((n) => `${vm.name}/${n.ifname}`),
    );
  for (const vm of vms) if (vms.length && pending().some((p) => p.startsWith(`${vm.name}/`))) kickDhcpClients(vm);
  const deadline = Date.now() + timeoutMs;
  let left = pending();
  while (left.length && Date.now() < deadline) {
    await sleep(100);
    left = pending();
  }
  return left;
}

/** The IPv4 address/prefix a guest NIC holds now (from the kernel, not from the lease). */
export async function guestAddress(netns: string, ifname: string): Promise<string | null> {
  const r = await run(['ip', '-j', '-4', 'addr', 'show', 'dev', ifname], { netns, allowFailure: true });
  if (r.exitCode !== 0 || !r.stdout.trim()) return null;
  const a = (JSON.parse(r.stdout) as Array<{ addr_info?: Array<{ local?: string; prefixlen?: number }> }>)[0]?.addr_info?.[0];
  return a?.local ? `${a.local}/${a.prefixlen}` : null;
}

/** Restarts the guest's DHCP clients that died (a guest keeps its client running). Returns how many. */
export function reviveDhcpClients(s: LabState, vm: LabVmState): number {
  prepareDhcpClients(s.lab);
  let n = 0;
  const clients = (vm.dhcpClients ?? []).filter((c) => isAlive(c.pid));
  for (const nic of vm.interfaces.filter((x) => x.dhcp)) {
    if (clients.some((c) => c.ifname === nic.ifname)) continue;
    clients.push({ ifname: nic.ifname, pid: spawnDetached(udhcpcArgv(s.lab, vm, nic.ifname), labPaths(s.lab).log(`dhcp-${vm.name}`)) });
    n++;
  }
  vm.dhcpClients = clients;
  return n;
}
