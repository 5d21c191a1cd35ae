/**
 * A ServiceAccount token bound to a Pod on a node, the way the kubelet gets one for a DaemonSet pod: the
 * TokenRequest names the Pod (boundObjectRef), and the API server then puts the pod's node into the
 * token and into the authenticated user's extra (`authentication.kubernetes.io/node-name`), which
 * deploy/'s admission policy checks. No kubelet runs here: the Node and the Pod are only API objects
 * (the Pod stays Pending), which is all token binding needs. Deleting the Pod invalidates its tokens.
 */
import { ControlPlaneError, type ControlPlane } from './control-plane.js';
import { httpsCall } from './https.js';

export interface PodTokenOptions {
  namespace: string;
  serviceAccount: string;
  node: string;
  /** Default: `<serviceAccount>-<node>`. */
  pod?: string;
  expirationSeconds?: number;
}

/** The Pod object a token is bound to (pure). */
export function boundPod(o: PodTokenOptions): Record<string, unknown> {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: o.pod ?? `${o.serviceAccount}-${o.node}`, namespace: o.namespace, labels: { 'app.kubernetes.io/name': o.serviceAccount } },
    spec: { nodeName: o.node, serviceAccountName: o.serviceAccount, containers: [{ name: 'main', image: 'ghcr.io/vxmesh/vxmesh:0.1.0' }] },
  };
}

/** Creates the Node (if missing) and the Pod (if missing), then returns a token bound to the Pod. */
export async function podBoundToken(cp: ControlPlane, o: PodTokenOptions): Promise<string> {
  const admin = cp.adminTls;
  const call = async (what: string, path: string, body: unknown, ok: number[]) => {
    const r = await httpsCall(`${cp.url}${path}`, admin, 'POST', body);
    if (!ok.includes(r.status)) throw new ControlPlaneError(`${what}: HTTP ${r.status} ${r.body.slice(0, 300)}`);
    return JSON.parse(r.body) as Record<string, any>;
  };
  await call(`Node ${o.node}`, '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: o.node } }, [201, 409]);
  const pod = boundPod(o) as { metadata: { name: string } };
  await call(`Pod ${o.namespace}/${pod.metadata.name}`, `/api/v1/namespaces/${o.namespace}/pods`, pod, [201, 409]);
  const got = await httpsCall(`${cp.url}/api/v1/namespaces/${o.namespace}/pods/${pod.metadata.name}`, admin, 'GET');
  const uid = (JSON.parse(got.body) as { metadata: { uid: string } }).metadata.uid;
  const r = await call(`TokenRequest for ${o.namespace}/${o.serviceAccount} bound to Pod ${pod.metadata.name}`, `/api/v1/namespaces/${o.namespace}/serviceaccounts/${o.serviceAccount}/token`, {
    apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest',
    spec: { expirationSeconds: o.expirationSeconds ?? 86_400, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid } },
  }, [200, 201]);
  return r.status.token as string;
}
