/**
 * The controller's metric families on a prom-client registry of its own. Values are read from the
 * controller's state at scrape time (`read`), so nothing has to be pushed while it works.
 */
import { Counter, Gauge, Registry } from 'prom-client';

export interface ControllerSample {
  /** Reconcile passes run by this replica since it started. */
  passes: number;
  leading: boolean;
  /** Objects written by the last pass, by kind. */
  lastPassWrites: Record<string, number>;
}

export function controllerMetrics(read: () => ControllerSample): { render(): Promise<string> } {
  const registry = new Registry();
  const registers = [registry];
  new Counter({
    name: 'vxmesh_controller_passes_total', help: 'Reconcile passes run by this replica.', registers,
    collect() {
      this.reset();
      this.inc(read().passes);
    },
  });
  new Gauge({
    name: 'vxmesh_controller_leader', help: '1 while this replica holds the lease.', registers,
    collect() {
      this.set(read().leading ? 1 : 0);
    },
  });
  new Gauge({
    name: 'vxmesh_controller_last_pass_writes', help: 'Objects written by the last pass, by kind.', labelNames: ['kind'], registers,
    collect() {
      this.reset();
      for (const [kind, n] of Object.entries(read().lastPassWrites)) this.set({ kind }, n);
    },
  });
  return { render: () => registry.metrics() };
}
