/**
 * metav1.Condition as vxmesh writes it on its status objects (VxlanNetwork, VxlanStatus): the transition
 * time moves only when a condition's status changes, so a status rewritten with the same facts is
 * byte-identical and wakes nobody. Pure.
 */
export interface Condition<T extends string = string> {
  type: T;
  status: 'True' | 'False';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** The condition `type` with status `ok`, keeping the previous transition time when the status stays. */
export function nextCondition<T extends string>(
  previous: ReadonlyArray<{ type: string; status: string; lastTransitionTime?: string }> | undefined,
  c: { type: T; ok: boolean; reason: string; message: string; observedGeneration?: number },
  now: string,
): Condition<T> {
  const status = c.ok ? 'True' : 'False';
  const prev = previous?.find((p) => p.type === c.type);
  return {
    type: c.type, status, reason: c.reason, message: c.message,
    lastTransitionTime: prev && prev.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : now,
    ...(c.observedGeneration !== undefined ? { observedGeneration: c.observedGeneration } : {}),
  };
}
