export { startApiServer, kubeconfigYaml, type ApiServerDouble, type ApiServerOptions, type RequestRecord } from './server.js';
export { DEFAULT_RESOURCES, apiVersionOf, type ResourceDef } from './resources.js';
export { Store, type K8sObject, type StoreEvent } from './store.js';
export { seedObjects } from './seed.js';
