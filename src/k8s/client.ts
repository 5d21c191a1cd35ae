/**
 * A small typed-enough client over @kubernetes/client-node for the objects vxmesh handles as plain JSON:
 * custom resources and leases through CustomObjectsApi, nodes and events through CoreV1Api. Every object
 * comes back in wire form (strings for timestamps), so the zod schemas validate API objects and YAML
 * files alike.
 */
import { ApiException, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { SourceError } from '../errors.js';
import { RESOURCES, apiVersionOf, type ResourceRef } from './resources.js';

export type KObject = { apiVersion?: string; kind?: string; metadata: Record<string, any> } & Record<string, any>;
export interface KList {
  metadata?: { resourceVersion?: string };
  items: KObject[];
}

export interface KubeClientOptions {
  /** Path of a kubeconfig file; default: $KUBECONFIG, ~/.kube/config or the in-cluster service account. */
  kubeconfig?: string;
  /** Kubeconfig text (tests and the lab pass their control plane's, e.g. a ServiceAccount token's). */
  kubeconfigYaml?: string;
}

export function loadKubeConfig(opts: KubeClientOptions = {}): KubeConfig {
  const kc = new KubeConfig();
  const from = opts.kubeconfigYaml ? 'the given kubeconfig' : opts.kubeconfig ?? 'the default kubeconfig ($KUBECONFIG, ~/.kube/config, in-cluster)';
  try {
    if (opts.kubeconfigYaml) kc.loadFromString(opts.kubeconfigYaml);
    else if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
    else kc.loadFromDefault();
  } catch (cause) {
    throw new SourceError(`cannot load ${from}: ${(cause as Error).message}`, { cause });
  }
  if (!kc.getCurrentCluster()) throw new SourceError(`${from} names no cluster to connect to`);
  return kc;
}

export class KubeClient {
  readonly kc: KubeConfig;
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;

  constructor(kc: KubeConfig) {
    this.kc = kc;
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  /**
   * Cluster-scoped core kinds. CoreV1Api has one method per kind and verb (listNode, readNamespace, …):
   * they are called by name, and the typed models come back in wire form.
   */
  private coreKind(res: ResourceRef): CoreKindOps | undefined {
    const kind = CORE_KINDS.get(res);
    if (!kind) return undefined;
    const api = this.core as unknown as Record<string, (p: object) => Promise<any>>;
    const w = (o: unknown) => wire({ apiVersion: 'v1', kind, ...(o as object) }) as KObject;
    return {
      list: async () => {
        const l = await api[`list${kind}`]!({});
        return { metadata: { resourceVersion: l.metadata?.resourceVersion }, items: l.items.map(w) };
      },
      read: async (name) => w(await api[`read${kind}`]!({ name })),
      create: async (body) => w(await api[`create${kind}`]!({ body })),
      replace: async (name, body) => w(await api[`replace${kind}`]!({ name, body })),
      remove: async (name) => void (await api[`delete${kind}`]!({ name })),
    };
  }

  async list(res: ResourceRef, namespace?: string): Promise<KList> {
    const core = this.coreKind(res);
    if (core) return core.list();
    notCore(res);
    const { group, version, plural } = res;
    if (!res.namespaced) return (await this.custom.listClusterCustomObject({ group, version, plural })) as KList;
    if (namespace) return (await this.custom.listNamespacedCustomObject({ group, version, namespace, plural })) as KList;
    return (await this.custom.listCustomObjectForAllNamespaces({ group, version, plural })) as KList;
  }

  /** The object, or undefined when it does not exist. */
  async get(res: ResourceRef, name: string, namespace?: string): Promise<KObject | undefined> {
    const core = this.coreKind(res);
    if (!core) notCore(res);
    const { group, version, plural } = res;
    try {
      if (core) return await core.read(name);
      return (res.namespaced
        ? await this.custom.getNamespacedCustomObject({ group, version, namespace: namespace!, plural, name })
        : await this.custom.getClusterCustomObject({ group, version, plural, name })) as KObject;
    } catch (err) {
      if (isApiError(err, 404)) return undefined;
      throw err;
    }
  }

  async create(res: ResourceRef, body: KObject): Promise<KObject> {
    const full = { apiVersion: apiVersionOf(res), kind: res.kind, ...body };
    if (res === RESOURCES.events) return wire(await this.core.createNamespacedEvent({ namespace: body.metadata.namespace, body: full as any })) as KObject;
    const core = this.coreKind(res);
    if (core) return core.create(full);
    notCore(res);
    const { group, version, plural } = res;
    return (res.namespaced
      ? await this.custom.createNamespacedCustomObject({ group, version, namespace: body.metadata.namespace, plural, body: full })
      : await this.custom.createClusterCustomObject({ group, version, plural, body: full })) as KObject;
  }

  /** PUT; body.metadata.resourceVersion is the optimistic-concurrency precondition (409 when stale). */
  async replace(res: ResourceRef, body: KObject): Promise<KObject> {
    const name = body.metadata.name;
    const full = { apiVersion: apiVersionOf(res), kind: res.kind, ...body };
    const core = this.coreKind(res);
    if (core) return core.replace(name, full);
    notCore(res);
    const { group, version, plural } = res;
    return (res.namespaced
      ? await this.custom.replaceNamespacedCustomObject({ group, version, namespace: body.metadata.namespace, plural, name, body: full })
      : await this.custom.replaceClusterCustomObject({ group, version, plural, name, body: full })) as KObject;
  }

  /** PUT …/status: only the status stanza is taken. */
  async replaceStatus(res: ResourceRef, body: KObject): Promise<KObject> {
    notCore(res);
    const { group, version, plural } = res;
    const name = body.metadata.name;
    const full = { apiVersion: apiVersionOf(res), kind: res.kind, ...body };
    return (res.namespaced
      ? await this.custom.replaceNamespacedCustomObjectStatus({ group, version, namespace: body.metadata.namespace, plural, name, body: full })
      : await this.custom.replaceClusterCustomObjectStatus({ group, version, plural, name, body: full })) as KObject;
  }

  /** DELETE, with a resourceVersion precondition when given. Returns false when it was already gone. */
  async delete(res: ResourceRef, name: string, namespace?: string, resourceVersion?: string): Promise<boolean> {
    const core = this.coreKind(res);
    if (!core) notCore(res);
    const { group, version, plural } = res;
    const body = resourceVersion ? { preconditions: { resourceVersion } } : undefined;
    try {
      if (core) await core.remove(name);
      else if (res.namespaced) await this.custom.deleteNamespacedCustomObject({ group, version, namespace: namespace!, plural, name, body });
      else await this.custom.deleteClusterCustomObject({ group, version, plural, name, body });
      return true;
    } catch (err) {
      if (isApiError(err, 404)) return false;
      throw err;
    }
  }
}

export function isApiError(err: unknown, code: number): boolean {
  return err instanceof ApiException && err.code === code;
}

/** The HTTP status of a client error, or undefined for network errors. */
export function apiErrorCode(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

/** A one-line description of a client error for logs. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body = typeof err.body === 'string' ? safeJson(err.body) : err.body;
    return `HTTP ${err.code}: ${(body as any)?.message ?? (body as any)?.reason ?? 'error'}`;
  }
  return (err as Error)?.message ?? String(err);
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return { message: s };
  }
}

const CORE_KINDS = new Map<ResourceRef, string>([[RESOURCES.nodes, 'Node'], [RESOURCES.namespaces, 'Namespace']]);

interface CoreKindOps {
  list(): Promise<KList>;
  read(name: string): Promise<KObject>;
  create(body: KObject): Promise<KObject>;
  replace(name: string, body: KObject): Promise<KObject>;
  remove(name: string): Promise<void>;
}

function notCore(res: ResourceRef): void {
  if (!res.group) throw new Error(`KubeClient: core resource ${res.plural} is not supported for this verb`);
}

/** Typed models carry Date objects; the wire form (and our schemas) use RFC 3339 strings. */
function wire<T>(o: T): T {
  return JSON.parse(JSON.stringify(o)) as T;
}
