/**
 * The control plane's small PKI, made with openssl: a CA, the API server's serving certificate (for
 * 127.0.0.1, localhost and any extra address, e.g. the lab's underlay API address), an admin client
 * certificate in group system:masters, and the service-account signing key pair.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run } from '../util/exec.js';

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  saKey: string;
  saPub: string;
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function signed(p: Pki, name: string, subj: string, ext: string): Promise<[string, string]> {
  const key = path.join(p.dir, `${name}.key`);
  const csr = path.join(p.dir, `${name}.csr`);
  const crt = path.join(p.dir, `${name}.crt`);
  const extFile = path.join(p.dir, `${name}.ext`);
  writeFileSync(extFile, ext);
  await run(['openssl', 'req', ...EC, '-keyout', key, '-out', csr, '-subj', subj]);
  await run(['openssl', 'x509', '-req', '-in', csr, '-CA', p.caCert, '-CAkey', p.caKey, '-CAcreateserial', '-days', '3650', '-out', crt, '-extfile', extFile]);
  return [crt, key];
}

/** Pure: the subjectAltName list of the serving certificate. */
export function servingSans(extraAddresses: string[]): string {
  const ips = [...new Set(['127.0.0.1', ...extraAddresses])];
  return ['DNS:localhost', 'DNS:kubernetes', 'DNS:kubernetes.default.svc', ...ips.map((ip) => `IP:${ip}`)].join(',');
}

export async function makePki(dir: string, extraAddresses: string[] = []): Promise<Pki> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = (n: string) => path.join(dir, n);
  const p: Pki = {
    dir, caCert: f('ca.crt'), caKey: f('ca.key'), servingCert: '', servingKey: '', adminCert: '', adminKey: '', saKey: f('sa.key'), saPub: f('sa.pub'),
  };
  await run(['openssl', 'req', '-x509', ...EC, '-keyout', p.caKey, '-out', p.caCert, '-days', '3650', '-subj', '/CN=vxmesh-control-plane-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  [p.servingCert, p.servingKey] = await signed(p, 'apiserver', '/CN=kube-apiserver',
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${servingSans(extraAddresses)}\n`);
  [p.adminCert, p.adminKey] = await signed(p, 'admin', '/O=system:masters/CN=vxmesh-admin',
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n');
  await run(['openssl', 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', p.saKey]);
  await run(['openssl', 'pkey', '-in', p.saKey, '-pubout', '-out', p.saPub]);
  return p;
}
