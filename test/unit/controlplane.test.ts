import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { apiServerArgs, etcdArgs, type ControlPlaneState } from '../../src/controlplane/control-plane.js';
import { kubeconfigYaml } from '../../src/controlplane/kubeconfig.js';
import { servingSans } from '../../src/controlplane/pki.js';
import { KubeToolsError, parseToolLines } from '../../src/controlplane/tools.js';

const state = (over: Partial<ControlPlaneState> = {}): ControlPlaneState => ({
  dir: '/run/x', apiPort: 6443, etcdPort: 2379, etcdPeerPort: 2380, extraAddresses: [], extraApiServerArgs: [], audit: false,
  tools: { kubeApiserver: '/t/kube-apiserver', kubeVersion: 'v1.34.4', etcd: '/t/etcd', etcdVersion: 'v3.6.16' },
  pki: { dir: '/run/x/pki', caCert: 'ca.crt', caKey: 'ca.key', servingCert: 's.crt', servingKey: 's.key', adminCert: 'a.crt', adminKey: 'a.key', saKey: 'sa.key', saPub: 'sa.pub' },
  ...over,
});

describe('control plane (pure parts)', () => {
  it('reads the tool paths kube-tools.sh prints and names a missing one', () => {
    const t = parseToolLines('KUBE_APISERVER=/c/kube-apiserver\nKUBE_VERSION=v1.34.4\nETCD=/c/etcd\nETCD_VERSION=v3.6.16\n');
    expect(t).toEqual({ kubeApiserver: '/c/kube-apiserver', kubeVersion: 'v1.34.4', etcd: '/c/etcd', etcdVersion: 'v3.6.16' });
    expect(() => parseToolLines('KUBE_APISERVER=/c/kube-apiserver\n')).toThrow(KubeToolsError);
    expect(() => parseToolLines('KUBE_APISERVER=/c/kube-apiserver\n')).toThrow(/KUBE_VERSION/);
  });

  it('serves for loopback, the extra addresses once each, and the in-cluster names', () => {
    expect(servingSans(['198.19.255.1', '127.0.0.1'])).toBe('DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc,IP:127.0.0.1,IP:198.19.255.1');
  });

  it('runs kube-apiserver with RBAC, client certificates, service-account keys and without the ServiceAccount admission plugin', () => {
    const a = apiServerArgs(state());
    expect(a[0]).toBe('/t/kube-apiserver');
    expect(a).toEqual(expect.arrayContaining([
      '--etcd-servers=http://127.0.0.1:2379', '--secure-port=6443', '--bind-address=127.0.0.1', '--authorization-mode=RBAC',
      '--client-ca-file=ca.crt', '--service-account-signing-key-file=sa.key', '--service-account-key-file=sa.pub', '--disable-admission-plugins=ServiceAccount',
    ]));
    expect(a.some((x) => x.startsWith('--audit-'))).toBe(false);
    expect(apiServerArgs(state({ audit: true })).filter((x) => x.startsWith('--audit-')).length).toBe(3);
    expect(apiServerArgs(state({ extraApiServerArgs: ['--watch-cache=false'] })).at(-1)).toBe('--watch-cache=false');
  });

  it('runs etcd on loopback only, data in the control plane directory', () => {
    const e = etcdArgs(state());
    expect(e.join(' ')).toContain('--listen-client-urls http://127.0.0.1:2379');
    expect(e.join(' ')).toContain('--data-dir /run/x/etcd');
    expect(e.filter((x) => x.includes('://') && !x.includes('127.0.0.1'))).toEqual([]);
  });

  it('writes kubeconfigs with the CA and either a client certificate or a token', () => {
    const cert = YAML.parse(kubeconfigYaml('https://1.2.3.4:6443', 'CA', 'admin', { clientCert: 'C', clientKey: 'K' }));
    expect(cert.clusters[0].cluster).toEqual({ server: 'https://1.2.3.4:6443', 'certificate-authority-data': Buffer.from('CA').toString('base64') });
    expect(cert.users[0].user).toEqual({ 'client-certificate-data': Buffer.from('C').toString('base64'), 'client-key-data': Buffer.from('K').toString('base64') });
    expect(YAML.parse(kubeconfigYaml('https://x', 'CA', 'sa', { token: 'T' })).users[0]).toEqual({ name: 'sa', user: { token: 'T' } });
  });
});
