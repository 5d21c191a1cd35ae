export { computeIntent, configFor, type LocalFacts } from './compute.js';
export type { NodeIntent, ClusterNetworkIntent, NetworkIntent, EndpointIntent } from './types.js';
