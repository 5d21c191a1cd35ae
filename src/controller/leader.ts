/**
 * Leader election through a coordination.k8s.io/v1 Lease, the way client-go does it: the holder renews
 * `renewTime` every retry period; a candidate takes over only after it has seen the same record unchanged
 * for a whole lease duration (measured on its own clock, so clock skew between pods does not matter);
 * every write is a PUT with the read resourceVersion, so two candidates can never both win (409). A
 * leader that cannot renew within the renew deadline steps down; a graceful stop releases the lease.
 */
import type { Logger } from 'pino';
import { apiErrorCode, errorMessage, type KObject, type KubeClient } from '../k8s/client.js';
import { RESOURCES } from '../k8s/resources.js';

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  log: Logger;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading(): void;
  onStoppedLeading(): void;
}

export interface LeaderElector {
  isLeader(): boolean;
  stop(): Promise<void>;
}

export function microTime(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export function startLeaderElection(o: LeaderElectionOptions): LeaderElector {
  const log = o.log.child({ component: 'controller.leader', identity: o.identity });
  const leaseMs = o.leaseDurationMs ?? 15_000;
  const renewDeadlineMs = o.renewDeadlineMs ?? 10_000;
  const retryMs = o.retryPeriodMs ?? 2_000;
  let leader = false;
  let stopped = false;
  let lastRenew = 0;
  /** The record last seen and when (local clock) it last changed. */
  let observed: { holder: string; renewTime: string; at: number } | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  const leaseBody = (current: KObject | undefined, transitions: number): KObject => ({
    ...(current ?? {}),
    metadata: { ...(current?.metadata ?? {}), name: o.name, namespace: o.namespace },
    spec: {
      holderIdentity: o.identity,
      leaseDurationSeconds: Math.ceil(leaseMs / 1000),
      acquireTime: leader && current?.spec?.acquireTime ? current.spec.acquireTime : microTime(),
      renewTime: microTime(),
      leaseTransitions: transitions,
    },
  });

  async function tryAcquireOrRenew(): Promise<boolean> {
    const res = RESOURCES.leases;
    const current = await o.client.get(res, o.name, o.namespace);
    if (!current) {
      await o.client.create(res, leaseBody(undefined, 0));
      return true;
    }
    const spec = current.spec ?? {};
    const holder: string = spec.holderIdentity ?? '';
    const renewTime: string = spec.renewTime ?? '';
    const now = Date.now();
    if (!observed || observed.holder !== holder || observed.renewTime !== renewTime) observed = { holder, renewTime, at: now };
    const durationMs = (spec.leaseDurationSeconds ?? Math.ceil(leaseMs / 1000)) * 1000;
    if (holder && holder !== o.identity && now < observed.at + durationMs) return false;
    const transitions = (spec.leaseTransitions ?? 0) + (holder === o.identity ? 0 : 1);
    await o.client.replace(res, leaseBody(current, transitions));
    return true;
  }

  async function tick(): Promise<void> {
    try {
      const ok = await tryAcquireOrRenew();
      if (ok) lastRenew = Date.now();
      if (ok && !leader && !stopped) {
        leader = true;
        log.info({ lease: `${o.namespace}/${o.name}` }, 'became leader');
        o.onStartedLeading();
      }
    } catch (err) {
      const code = apiErrorCode(err);
      if (code !== 409) log.warn({ err: errorMessage(err) }, 'lease update failed');
    }
    if (leader && Date.now() - lastRenew > renewDeadlineMs) {
      leader = false;
      log.warn({ lease: `${o.namespace}/${o.name}` }, 'lost leadership: lease not renewed in time');
      o.onStoppedLeading();
    }
  }

  const loop = () => {
    if (stopped) return;
    running = tick().finally(() => {
      running = undefined;
      if (!stopped) timer = setTimeout(loop, leader ? retryMs : retryMs);
    });
  };
  loop();

  return {
    isLeader: () => leader,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
      if (!leader) return;
      leader = false;
      o.onStoppedLeading();
      try {
        // Release: an empty holder lets the next candidate take over at once.
        const current = await o.client.get(RESOURCES.leases, o.name, o.namespace);
        if (current?.spec?.holderIdentity === o.identity) {
          await o.client.replace(RESOURCES.leases, { ...current, spec: { ...current.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime() } });
        }
      } catch (err) {
        log.warn({ err: errorMessage(err) }, 'lease release failed');
      }
    },
  };
}
