export { startHealthServer, type HealthServer, type HealthServerOptions } from './health.js';
export { agentMetrics, type AgentMetrics, type AgentMetricsOptions, type PassSample, type ScrapeSample } from './agent.js';
export { controllerMetrics, type ControllerSample } from './controller.js';
export { addressPools, type AddressPool } from './address-pool.js';
