/** Kubeconfig documents for the control plane: the admin (client certificate) and ServiceAccount tokens. */
import { renameSync, writeFileSync } from 'node:fs';
import YAML from 'yaml';

export type Credentials = { clientCert: string; clientKey: string } | { token: string };

const b64 = (pem: string) => Buffer.from(pem).toString('base64');

/** Pure: a one-cluster, one-user kubeconfig. */
export function kubeconfigYaml(server: string, caPem: string, user: string, creds: Credentials): string {
  const u = 'token' in creds ? { token: creds.token } : { 'client-certificate-data': b64(creds.clientCert), 'client-key-data': b64(creds.clientKey) };
  return YAML.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'vxmesh',
    clusters: [{ name: 'vxmesh', cluster: { server, 'certificate-authority-data': b64(caPem) } }],
    users: [{ name: user, user: u }],
    contexts: [{ name: 'vxmesh', context: { cluster: 'vxmesh', user } }],
  });
}

/** Written to a temporary name and renamed, so a reader never sees half a file. */
export function writeAtomically(file: string, text: string, mode = 0o600): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, file);
}
