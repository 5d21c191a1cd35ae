/**
 * The nft tables of the shared gateway (both modes). Node namespace, `inet vxmesh`: masquerade the
 * transit range out of each uplink (the external host sees the node's underlay address), never forward
 * router to router (tenants stay apart even where CIDRs overlap), no new connections from routers to the
 * node itself, nothing from a router to what the gateway guard (guard.ts) names. Router namespace,
 * `inet vxmesh`: the same guard towards up0 (defence in depth: either table alone stops it), masquerade
 * to up0 when natOutgoing, else drop forwarding to up0; nothing new comes in from up0.
 */
import { chain, type NftTableSpec } from '../netlink/nft.js';
import { names } from '../names.js';
import { TRANSIT_CIDR } from './transit.js';
import { guardRules, guardSets, type GatewayGuard } from './guard.js';

export const GATEWAY_TABLE = names.nftTable;

/** Interface names that can be quoted into an nft rule as they are. */
export const isSafeIfname = (s: string) => /^[A-Za-z0-9_.:-]{1,15}$/.test(s);

export function nodeGatewayTable(uplinks: string[], guard: GatewayGuard): NftTableSpec {
  return {
    family: 'inet',
    name: GATEWAY_TABLE,
    sets: guardSets(guard),
    chains: [
      chain('nat', 'postrouting', 100,
        uplinks.filter(isSafeIfname).map((u) => ({ id: `masq:${u}`, text: `ip saddr ${TRANSIT_CIDR} oifname "${u}" masquerade` }))),
      chain('filter', 'forward', 0, [
        { id: 'router-isolation', text: 'iifname "vxo*" oifname "vxo*" drop' },
        ...guardRules('iifname "vxo*"'),
      ]),
      chain('filter', 'input', 0, [{ id: 'router-no-new-to-node', text: 'iifname "vxo*" ct state new drop' }]),
    ],
  };
}

export function routerTable(natOutgoing: boolean, guard: GatewayGuard): NftTableSpec {
  const up = names.routerUplink;
  return {
    family: 'inet',
    name: GATEWAY_TABLE,
    sets: guardSets(guard),
    chains: [
      chain('nat', 'postrouting', 100, natOutgoing ? [{ id: 'masq', text: `oifname "${up}" masquerade` }] : []),
      chain('filter', 'forward', 0, [
        { id: 'up-established', text: `iifname "${up}" ct state established,related accept` },
        { id: 'up-new', text: `iifname "${up}" drop` },
        ...(natOutgoing ? guardRules(`oifname "${up}"`) : [{ id: 'isolated', text: `oifname "${up}" drop` }]),
      ]),
    ],
  };
}
