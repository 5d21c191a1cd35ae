/**
 * The node-side veth the plugin makes for an attachment, as the runtime side derives it (the plugin,
 * cni/internal/binding HostPortName, does the same): `vxmc` + 8 hex of sha256(containerId/ifname).
 * Derived, so DEL finds it from the same parameters even when the container's namespace is gone; never a
 * name vxmesh's agent owns (names.ts isOwnedDevice). test/cni/plugin.test.ts checks both agree. Pure.
 */
import { createHash } from 'node:crypto';

export function hostPortName(containerId: string, ifname: string): string {
  return `vxmc${createHash('sha256').update(`${containerId}/${ifname}`).digest('hex').slice(0, 8)}`;
}
