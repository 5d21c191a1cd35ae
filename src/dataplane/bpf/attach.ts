/**
 * attach.ts: TC attachments. vxm_from_vm on the ingress of every port in vxm_ports (VM ports and
 * gateway legs) and vxm_to_port on their egress (policy for frames from unprogrammed ports), vxm_from_tunnel
 * on the ingress of each vxe device, vxm_from_uplink on the ingress of each cluster network's uplink
 * (native decapsulation; it hands everything it does not take to the next filter), all as one
 * direct-action filter at
 * {handle, priority} = VXM_FILTER, replaced in place when the pinned program changed.
 * libbpf's TC calls act on the current netns: with `netns` set they run inside it (setns, libbpf.ts).
 */
import * as bpf from './libbpf.js';

export const VXM_FILTER: bpf.TcFilterRef = { handle: 0x7e5, priority: 1 };

type Prog = 'fromVm' | 'fromTunnel' | 'toPort' | 'fromUplink';

export interface AttachStep {
  op: 'attach' | 'detach';
  ifindex: number;
  prog?: Prog;
}

/** Pure: desired ifindex -> program, observed ifindex -> prog id, program ids -> steps. */
export function planAttach(
  desired: Map<number, Prog>,
  observed: Map<number, number>,
  ids: Partial<Record<Prog, number>>,
): AttachStep[] {
  const steps: AttachStep[] = [];
  for (const [ifindex, prog] of desired) if (observed.get(ifindex) !== ids[prog]) steps.push({ op: 'attach', ifindex, prog });
  for (const ifindex of observed.keys()) if (!desired.has(ifindex)) steps.push({ op: 'detach', ifindex });
  return steps;
}

/** Which of these devices carry a vxmesh filter, and which program (id). */
export function observeAttach(netns: string | undefined, ifindexes: number[], point = bpf.BPF_TC_INGRESS): Map<number, number> {
  return bpf.inNetns(netns, () => {
    const out = new Map<number, number>();
    for (const i of ifindexes) {
      const id = bpf.tcQuery(i, VXM_FILTER, point);
      if (id) out.set(i, id);
    }
    return out;
  });
}

/** Applies the steps; returns the failures (the others are still applied). */
export function applyAttach(netns: string | undefined, steps: AttachStep[], fds: Partial<Record<Prog, number>>, point = bpf.BPF_TC_INGRESS): Array<{ step: AttachStep; message: string }> {
  return bpf.inNetns(netns, () => {
    const failures: Array<{ step: AttachStep; message: string }> = [];
    for (const s of steps) {
      try {
        if (s.op === 'attach') {
          bpf.tcHookCreate(s.ifindex);
          bpf.tcAttach(s.ifindex, fds[s.prog!]!, VXM_FILTER, point);
        } else {
          bpf.tcDetach(s.ifindex, VXM_FILTER, point);
        }
      } catch (err) {
        failures.push({ step: s, message: (err as Error).message });
      }
    }
    return failures;
  });
}
