/**
 * teardown.ts: removes vxmesh's TC filters from every device of the node; a clsact qdisc left without
 * any filter is removed too (vxmesh created it; nobody else uses it).
 */
import type { LinkInfo } from '../netlink/link.js';
import { runJson, run } from '../../util/exec.js';
import * as bpf from './libbpf.js';
import { VXM_FILTER, observeAttach } from './attach.js';

export async function detachAll(netns: string | undefined, links: LinkInfo[]): Promise<void> {
  const attached = observeAttach(netns, links.map((l) => l.ifindex));
  const egress = observeAttach(netns, links.map((l) => l.ifindex), bpf.BPF_TC_EGRESS);
  bpf.inNetns(netns, () => {
    for (const ifindex of attached.keys()) bpf.tcDetach(ifindex, VXM_FILTER);
    for (const ifindex of egress.keys()) bpf.tcDetach(ifindex, VXM_FILTER, bpf.BPF_TC_EGRESS);
  });
  for (const i of egress.keys()) attached.set(i, 0);
  for (const l of links.filter((x) => attached.has(x.ifindex))) {
    const left = [
      ...(await runJson<unknown[]>(['tc', '-j', 'filter', 'show', 'dev', l.name, 'ingress'], { netns, allowFailure: true }).catch(() => [1])),
      ...(await runJson<unknown[]>(['tc', '-j', 'filter', 'show', 'dev', l.name, 'egress'], { netns, allowFailure: true }).catch(() => [1])),
    ];
    if (left.length === 0) await run(['tc', 'qdisc', 'del', 'dev', l.name, 'clsact'], { netns, allowFailure: true });
  }
}
