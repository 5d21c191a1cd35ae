/**
 * Kernel mode's per-VNI vxlan devices `vxl<vni>` (id vni, dstport, local VTEP, dev uplink, nolearning,
 * proxy), members of `vxb<vni>` with bridge-port learning off. Like flannel's ensureLink: a device with
 * compatible attributes is kept; one whose vni/port/local/dev/learning/proxy differ is recreated and
 * the reason names each differing attribute (old -> new). Pure.
 */
import type { NodeIntent } from '../../intent/types.js';
import type { LinkInfo } from '../netlink/link.js';
import { Phase, type Change } from '../netlink/change.js';
import { names } from '../names.js';
import { vniOf } from '../gateway/networks.js';
import { ipv6Silence, namespaceHasIpv6 } from '../netlink/ipv6-silence.js';

export interface VxlanWant {
  vni: number;
  local: string;
  port: number;
  dev: string;
  mtu: number;
}

export function wantedVxlans(intent: NodeIntent): VxlanWant[] {
  return intent.clusterNetworks.flatMap((cn) =>
    cn.networks.map((n) => ({ vni: n.vni, local: cn.localVtep, port: cn.port, dev: cn.uplink, mtu: n.mtu })),
  );
}

/** Differing attributes as "attr old -> new" (empty when compatible). */
export function vxlanDiff(have: LinkInfo, want: VxlanWant): string[] {
  const v = have.vxlan;
  if (have.kind !== 'vxlan' || !v) return [`kind ${have.kind ?? 'none'} -> vxlan`];
  const out: string[] = [];
  const cmp = (attr: string, a: unknown, b: unknown) => {
    if (a !== b) out.push(`${attr} ${String(a)} -> ${String(b)}`);
  };
  cmp('vni', v.id, want.vni);
  cmp('port', v.port, want.port);
  cmp('local', v.local, want.local);
  cmp('dev', v.dev, want.dev);
  cmp('learning', v.learning, false);
  cmp('proxy', v.proxy, true);
  cmp('external', v.external, false);
  return out;
}

export interface VxlanPlan {
  changes: Change[];
  /** VNIs whose device is (re)created: their FDB and neighbours start empty. */
  fresh: Set<number>;
}

export function planVxlans(links: LinkInfo[], intent: NodeIntent): VxlanPlan {
  const changes: Change[] = [];
  const fresh = new Set<number>();
  const byName = new Map(links.map((l) => [l.name, l]));
  const wanted = wantedVxlans(intent);
  const ipv6 = namespaceHasIpv6(links);
  for (const w of wanted) {
    const dev = names.vxlan(w.vni);
    const br = names.bridge(w.vni);
    const ch = (args: string[], reason: string): Change => ({ tool: 'ip', args, vni: w.vni, phase: Phase.links, reason });
    let have = byName.get(dev);
    if (have) {
      const diff = vxlanDiff(have, w);
      if (diff.length) {
        changes.push(ch(['link', 'del', dev], `vxlan attributes differ: ${diff.join(', ')}`));
        have = undefined;
      }
    }
    if (!have) {
      fresh.add(w.vni);
      changes.push(
        ch(['link', 'add', dev, 'mtu', String(w.mtu), 'type', 'vxlan', 'id', String(w.vni), 'dstport', String(w.port), 'local', w.local, 'dev', w.dev, 'nolearning', 'proxy'], 'vxlan missing'),
        ch(['link', 'set', dev, 'master', br], 'vxlan missing'),
        ch(['link', 'set', 'dev', dev, 'type', 'bridge_slave', 'learning', 'off'], 'vxlan missing'),
        ...ipv6Silence(dev, undefined, ipv6).map((a) => ch(a, 'vxlan missing')),
        ch(['link', 'set', dev, 'up'], 'vxlan missing'),
      );
      continue;
    }
    if (have.mtu !== w.mtu) changes.push(ch(['link', 'set', dev, 'mtu', String(w.mtu)], `mtu differs: ${have.mtu} -> ${w.mtu}`));
    if (have.master !== br) changes.push(ch(['link', 'set', dev, 'master', br], `master differs: ${have.master ?? 'none'} -> ${br}`));
    if (have.master !== br || have.portLearning !== false) {
      changes.push(ch(['link', 'set', 'dev', dev, 'type', 'bridge_slave', 'learning', 'off'], 'bridge-port learning on'));
    }
    for (const a of ipv6Silence(dev, have, ipv6, !have.up)) changes.push(ch(a, 'vxlan speaks IPv6'));
    if (!have.up) changes.push(ch(['link', 'set', dev, 'up'], 'link down'));
  }
  const keep = new Set(wanted.map((w) => w.vni));
  for (const l of links) {
    const vni = vniOf(l.name, 'vxl');
    if (vni !== undefined && !keep.has(vni)) changes.push({ tool: 'ip', args: ['link', 'del', l.name], vni, phase: Phase.linkDel, reason: 'network left the intent' });
  }
  return { changes, fresh };
}
