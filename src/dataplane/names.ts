/**
 * Names of everything vxmesh creates on a node. They derive from the VNI (and the node name for
 * namespaces) so two agents never disagree and a restarted agent finds its own objects.
 * Linux interface names are at most 15 characters.
 */
export const names = {
  /** Per-VNI bridge; VM ports (bridge CNI / the lab) and the gateway leg are its members. */
  bridge: (vni: number) => `vxb${vni}`,
  /** Per-VNI vxlan device (kernel mode). */
  vxlan: (vni: number) => `vxl${vni}`,
  /** Collect-metadata vxlan device for all VNIs of one UDP port (bpf mode). */
  externalVxlan: (port: number) => (port === 4789 ? 'vxe0' : `vxe${port}`),
  /** Node-side end of the gateway leg (bridge port); the router side is `gw0` with the gateway IP/MAC. */
  gatewayPort: (vni: number) => `vxg${vni}`,
  /** Node-side end of the router's outer leg; the router side is `up0`. */
  routerOuter: (vni: number) => `vxo${vni}`,
  /** Router namespace of one network on one node (Neutron-style qrouter). */
  routerNetns: (node: string, vni: number) => `vxmr-${node}-${vni}`,
  routerInner: 'gw0',
  routerUplink: 'up0',
  /** nftables table vxmesh owns (family inet) in the node namespace and in router namespaces. */
  nftTable: 'vxmesh',
  /** bpffs directory vxmesh pins under. */
  pinDir: (bpffs: string) => `${bpffs.replace(/\/$/, '')}/vxmesh`,
} as const;

/** True for devices vxmesh created and may delete. */
export function isOwnedDevice(name: string): boolean {
  return /^vx[blego]\d+$/.test(name) || /^vxe\d+$/.test(name);
}

/**
 * The gateway MAC of a network: the same on every node (so a migrated VM keeps its ARP entry),
 * locally administered, derived from the VNI: 02:76:6d:<vni 24 bits>.
 */
export function gatewayMac(vni: number): string {
  const b = [(vni >> 16) & 0xff, (vni >> 8) & 0xff, vni & 0xff];
  return ['02', '76', '6d', ...b.map((x) => x.toString(16).padStart(2, '0'))].join(':');
}
