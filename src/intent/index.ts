export { computeIntent, configFor, type LocalFacts } from './compute.js';
export type { NodeIntent, ClusterNetworkIntent, NetworkIntent, EndpointIntent, DhcpIntent } from './types.js';
export { networkPolicy, matchesSelector, policyNetworks, policyTypes } from './policy.js';
export type * from './policy-types.js';
export { floodVteps, hostsNetwork } from './flood.js';
