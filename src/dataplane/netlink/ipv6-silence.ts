/**
 * vxmesh's own devices (vxb bridges, gateway legs, vxlan devices) carry no IPv6. The overlays are IPv4
 * and every VM port drops IPv6 from its VM; without this the host itself would speak IPv6 into each
 * tenant's network: the bridge's and gw0's link-local addresses send router solicitations and MLD reports
 * to every VM of the network, and a vxlan device floods them to the other nodes. Pure.
 *
 * `addrgenmode none` keeps a device from generating a link-local address when it comes up (the kernel
 * refuses it at creation, so it goes between `link add` and `link set up`); an address a device already
 * has (created before this rule, or by hand) is deleted. A namespace where no device has IPv6 (a kernel
 * without it, or IPv6 disabled everywhere) gets neither: the command would fail there and nothing speaks.
 */
import type { LinkInfo } from './link.js';

/** Whether the namespace runs IPv6 at all (some device has an IPv6 address: ::1 on lo, a link-local). */
export const namespaceHasIpv6 = (links: LinkInfo[]): boolean => links.some((l) => (l.ipv6Addrs?.length ?? 0) > 0);

/**
 * `ip` argv lines (without "ip") that silence `dev`. `have`: the device as observed, undefined when the
 * plan creates it (put these before its `up`). `upPlanned`: the plan also brings an existing device up
 * (it had no addresses while down; `none` keeps it from generating one).
 */
export function ipv6Silence(dev: string, have: LinkInfo | undefined, ipv6: boolean, upPlanned = false): string[][] {
  if (!ipv6) return [];
  const addrs = have?.ipv6Addrs ?? [];
  if (have && addrs.length === 0 && !upPlanned) return [];
  return [['link', 'set', dev, 'addrgenmode', 'none'], ...addrs.map((a) => ['addr', 'del', a, 'dev', dev])];
}
