export { computeIntent, configFor, type LocalFacts } from './compute.js';
export type { NodeIntent, ClusterNetworkIntent, NetworkIntent, EndpointIntent, DhcpIntent } from './types.js';
