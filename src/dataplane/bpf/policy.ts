/**
 * policy.ts: the policy part of the desired maps (issue 8). Pure. Per network with a policy:
 *  - vxm_pol_eps {vni, mac} -> {ingress group, egress group} for every selected endpoint, local or not
 *    (programs enforce where the frame is delivered / sent, so a migrating VM is guarded at once);
 *  - vxm_pol_rules: per group its disjoint address regions (intent/regions.ts) split into prefixes,
 *    each -> {any | up to 16 port ranges}; an ipBlock except is simply a hole (no entry);
 *  - vxm_pol_groups: group id -> {vni, direction, policy names} for inspect.
 * vxm_config.flags gets CFG_POLICY when anything is selected, so nodes without policies pay one
 * array lookup per frame.
 */
import type { NodeIntent } from '../../intent/types.js';
import { groupRegions } from '../../intent/regions.js';
import { rangeToPrefixes } from '../../intent/ranges.js';
import { POL_ANY, POL_MAX_RANGES, encode, macBytes, u32 } from './abi.js';

const PROTO = { tcp: 6, udp: 17, sctp: 132 } as const;
const hex = (b: Buffer) => b.toString('hex');

export interface PolicyTables {
  vxm_pol_eps: Map<string, string>;
  vxm_pol_rules: Map<string, string>;
  vxm_pol_groups: Map<string, string>;
}

export function policyTables(intent: NodeIntent, errors: Array<{ network?: string; vni?: number; message: string }>): { tables: PolicyTables; enabled: boolean } {
  const t: PolicyTables = { vxm_pol_eps: new Map(), vxm_pol_rules: new Map(), vxm_pol_groups: new Map() };
  let enabled = false;
  for (const cn of intent.clusterNetworks) {
    for (const net of cn.networks) {
      if (!net.policy) continue;
      enabled = true;
      for (const ep of net.policy.endpoints) {
        t.vxm_pol_eps.set(
          hex(encode('vxm_endpoint_key', { vni: net.vni, mac: macBytes(ep.mac), pad: [0, 0] })),
          hex(encode('vxm_pol_ep', { ingress: ep.ingress ?? 0, egress: ep.egress ?? 0 })),
        );
      }
      for (const g of net.policy.groups) {
        const names = Buffer.alloc(120);
        names.write(g.policies.join(',').slice(0, 119), 'utf8');
        t.vxm_pol_groups.set(hex(u32(g.id)), hex(encode('vxm_pol_group', { vni: net.vni, direction: g.direction === 'ingress' ? 0 : 1, policies: [...names] })));
        for (const r of groupRegions(g)) {
          if (r.ports.length > POL_MAX_RANGES) {
            errors.push({ network: net.key, vni: net.vni, message: `policies ${g.policies.join(', ')}: ${r.ports.length} port ranges for one peer range exceed ${POL_MAX_RANGES}; the first ${POL_MAX_RANGES} are enforced` });
          }
          const ranges: Array<{ from: number; to: number; proto: number; pad: number[] }> = r.ports.slice(0, POL_MAX_RANGES).map((p) => ({ from: p.from, to: p.to, proto: PROTO[p.protocol], pad: [0, 0, 0] }));
          while (ranges.length < POL_MAX_RANGES) ranges.push({ from: 0, to: 0, proto: 0, pad: [0, 0, 0] });
          const value = hex(encode('vxm_pol_value', { flags: r.any ? POL_ANY : 0, count: Math.min(r.ports.length, POL_MAX_RANGES), ranges }));
          for (const p of rangeToPrefixes(r)) {
            const addr = [p.network >>> 24, (p.network >>> 16) & 0xff, (p.network >>> 8) & 0xff, p.network & 0xff];
            t.vxm_pol_rules.set(hex(encode('vxm_pol_key', { prefixlen: 32 + p.prefixLen, group: g.id, addr })), value);
          }
        }
      }
    }
  }
  return { tables: t, enabled };
}
