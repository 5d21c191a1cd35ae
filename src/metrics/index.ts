export { Registry, formatLabels, type Counter, type Gauge, type Histogram } from './prometheus.js';
export { startHealthServer, type HealthServer, type HealthServerOptions } from './health.js';
export { agentMetrics, type AgentMetrics, type AgentMetricsOptions, type PassSample, type ScrapeSample } from './agent.js';
