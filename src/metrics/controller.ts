/**
 * The controller's metric families on a prom-client registry of its own. Values are read from the
 * controller's state at scrape time (`read`), so nothing has to be pushed while it works.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { AddressPool } from './address-pool.js';

export interface ControllerSample {
  /** Reconcile passes run by this replica since it started. */
  passes: number;
  leading: boolean;
  /** Objects written by the last pass, by kind. */
  lastPassWrites: Record<string, number>;
  /** Addresses used/available per VxlanNetwork (address-pool.ts); absent: no samples. */
  addressPools?: AddressPool[];
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
  new Gauge({
    name: 'vxmesh_network_addresses_used', help: 'Addresses of a VxlanNetwork held by VxlanIPAllocations, by network (<namespace>/<name>).', labelNames: ['network'], registers,
    collect() {
      this.reset();
      for (const p of read().addressPools ?? []) this.set({ network: p.network }, p.used);
    },
  });
  new Gauge({
    name: 'vxmesh_network_addresses_available', help: 'Addresses of a VxlanNetwork still free to hand out (CIDR hosts minus gateway, excludeIPs and used), by network.', labelNames: ['network'], registers,
    collect() {
      this.reset();
      for (const p of read().addressPools ?? []) this.set({ network: p.network }, p.available);
    },
  });
  return { render: () => registry.metrics() };
}
