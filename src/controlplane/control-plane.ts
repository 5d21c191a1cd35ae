/**
 * A real Kubernetes control plane for tests and the Kubernetes lab, in envtest's shape: etcd and
 * kube-apiserver built from the official Go modules, a small CA, a serving certificate, an admin client
 * certificate (group system:masters), service-account signing keys, RBAC authorization and the default
 * admission plugins (ValidatingAdmissionPolicy included) minus ServiceAccount (no controller creates
 * default ServiceAccounts here).
 *
 * Both processes run detached with their logs in `<dir>/logs`; `<dir>/state.json` records pids and ports so
 * another process (the lab CLI, a test sweep) can attach and stop them. Nothing here needs
 * kube-controller-manager: no garbage collection, namespace deletion never finishes, no default
 * ServiceAccounts — callers must not depend on those.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { isAlive, sleep, spawnDetached, stopPid } from '../lab/processes.js';
import { httpsCall, type TlsIdentity } from './https.js';
import { kubeconfigYaml, writeAtomically } from './kubeconfig.js';
import { makePki, type Pki } from './pki.js';
import { kubeTools, type KubeTools } from './tools.js';

export class ControlPlaneError extends Error {
  override readonly name = 'ControlPlaneError';
}

export interface ControlPlaneOptions {
  /** Directory for certificates, etcd data, logs and state; removed by stop(). */
  dir: string;
  /** Addresses besides 127.0.0.1 the serving certificate is valid for (e.g. the lab's underlay API address). */
  extraAddresses?: string[];
  /** API server port on 127.0.0.1 (default: a free one). */
  port?: number;
  /** Passed on to kube-apiserver last (e.g. `--watch-cache=false`). */
  extraApiServerArgs?: string[];
  readyTimeoutMs?: number;
  /** Write kube-apiserver's audit log (every request at Metadata level) so tests can see what clients asked for. */
  audit?: boolean;
}

/** One line of kube-apiserver's audit log (the fields tests look at). */
export interface AuditEvent {
  verb: string;
  requestURI: string;
  user: { username: string; groups?: string[] };
  responseStatus?: { code: number };
  objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string };
}

export interface ControlPlaneState {
  dir: string;
  apiPort: number;
  etcdPort: number;
  etcdPeerPort: number;
  apiPid?: number;
  etcdPid?: number;
  extraAddresses: string[];
  extraApiServerArgs: string[];
  audit: boolean;
  tools: KubeTools;
  pki: Pki;
}

const STATE = 'state.json';
const AUDIT_POLICY = 'apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Pure: etcd's command line. */
export function etcdArgs(s: ControlPlaneState): string[] {
  const client = `http://127.0.0.1:${s.etcdPort}`;
  const peer = `http://127.0.0.1:${s.etcdPeerPort}`;
  return [
    s.tools.etcd, '--name', 'vxmesh', '--data-dir', path.join(s.dir, 'etcd'),
    '--listen-client-urls', client, '--advertise-client-urls', client,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `vxmesh=${peer}`,
    '--unsafe-no-fsync', '--log-level', 'warn',
  ];
}

/** Pure: kube-apiserver's command line. */
export function apiServerArgs(s: ControlPlaneState): string[] {
  return [
    s.tools.kubeApiserver,
    `--etcd-servers=http://127.0.0.1:${s.etcdPort}`,
    `--secure-port=${s.apiPort}`, '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1',
    `--tls-cert-file=${s.pki.servingCert}`, `--tls-private-key-file=${s.pki.servingKey}`,
    `--client-ca-file=${s.pki.caCert}`,
    '--authorization-mode=RBAC', '--allow-privileged=true',
    '--service-cluster-ip-range=10.0.0.0/24',
    '--service-account-issuer=https://kubernetes.default.svc',
    `--service-account-key-file=${s.pki.saPub}`, `--service-account-signing-key-file=${s.pki.saKey}`,
    '--service-account-max-token-expiration=8760h',
    '--disable-admission-plugins=ServiceAccount',
    `--cert-dir=${path.join(s.dir, 'certs')}`,
    '--profiling=false', '--v=1',
    // On SIGTERM the server otherwise waits up to --request-timeout (60 s) for the agents' and the controller's
    // watches to go idle; with it, as behind a load balancer, it answers 429 + Retry-After and stops in ~2 s.
    '--shutdown-send-retry-after=true',
    ...(s.audit ? [`--audit-policy-file=${path.join(s.dir, 'audit-policy.yaml')}`, `--audit-log-path=${path.join(s.dir, 'logs', 'audit.log')}`, '--audit-log-mode=blocking'] : []),
    ...s.extraApiServerArgs,
  ];
}

export class ControlPlane {
  private constructor(readonly state: ControlPlaneState) {}

  /** Builds the binaries if missing, makes the PKI, starts etcd and kube-apiserver, waits for /readyz. */
  static async start(opts: ControlPlaneOptions): Promise<ControlPlane> {
    const tools = kubeTools();
    mkdirSync(path.join(opts.dir, 'logs'), { recursive: true });
    const pki = await makePki(path.join(opts.dir, 'pki'), opts.extraAddresses ?? []);
    const cp = new ControlPlane({
      dir: opts.dir, tools, pki,
      apiPort: opts.port ?? await freePort(), etcdPort: await freePort(), etcdPeerPort: await freePort(),
      extraAddresses: opts.extraAddresses ?? [], extraApiServerArgs: opts.extraApiServerArgs ?? [], audit: opts.audit ?? false,
    });
    if (cp.state.audit) writeFileSync(path.join(opts.dir, 'audit-policy.yaml'), AUDIT_POLICY);
    try {
      await cp.startEtcd(opts.readyTimeoutMs);
      for (let attempt = 1; ; attempt++) {
        try {
          await cp.startApiServer(opts.readyTimeoutMs);
          break;
        } catch (err) {
          // A free port picked here can be taken before kube-apiserver binds it: try another one.
          if (opts.port !== undefined || attempt >= 3 || !(err instanceof ControlPlaneError) || !/exited/.test(err.message)) throw err;
          cp.state.apiPort = await freePort();
        }
      }
      cp.writeAdminKubeconfig();
    } catch (err) {
      await cp.stop();
      throw err;
    }
    return cp;
  }

  /** The control plane another process started in `dir`. */
  static attach(dir: string): ControlPlane {
    let state: ControlPlaneState;
    try {
      state = JSON.parse(readFileSync(path.join(dir, STATE), 'utf8')) as ControlPlaneState;
    } catch (cause) {
      throw new ControlPlaneError(`no control plane in ${dir}: ${(cause as Error).message}`, { cause });
    }
    return new ControlPlane(state);
  }

  get url(): string {
    return `https://127.0.0.1:${this.state.apiPort}`;
  }

  get kubeconfigPath(): string {
    return path.join(this.state.dir, 'admin.kubeconfig');
  }

  get caPem(): string {
    return readFileSync(this.state.pki.caCert, 'utf8');
  }

  get versions(): { kubernetes: string; etcd: string } {
    return { kubernetes: this.state.tools.kubeVersion, etcd: this.state.tools.etcdVersion };
  }

  log(which: 'etcd' | 'apiserver'): string {
    return path.join(this.state.dir, 'logs', `${which}.log`);
  }

  /** The admin identity (client certificate in system:masters) for plain HTTPS calls (https.ts). */
  get adminTls(): TlsIdentity {
    return { ca: this.caPem, cert: readFileSync(this.state.pki.adminCert, 'utf8'), key: readFileSync(this.state.pki.adminKey, 'utf8') };
  }

  /** The admin kubeconfig (client certificate in system:masters) for `server` (default: the loopback URL). */
  adminKubeconfig(server = this.url): string {
    const t = this.adminTls;
    return kubeconfigYaml(server, t.ca, 'vxmesh-admin', { clientCert: t.cert!, clientKey: t.key! });
  }

  /** A kubeconfig that authenticates with a bearer token (a ServiceAccount's, from serviceAccountToken). */
  tokenKubeconfig(token: string, user: string, server = this.url): string {
    return kubeconfigYaml(server, this.caPem, user, { token });
  }

  /** A real ServiceAccount token from the TokenRequest API (the ServiceAccount must exist). */
  async serviceAccountToken(namespace: string, name: string, expirationSeconds = 86_400 * 30): Promise<string> {
    const r = await httpsCall(`${this.url}/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, this.adminTls, 'POST', {
      apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds },
    });
    if (r.status !== 201 && r.status !== 200) throw new ControlPlaneError(`TokenRequest for ServiceAccount ${namespace}/${name}: HTTP ${r.status} ${r.body.slice(0, 300)}`);
    return (JSON.parse(r.body) as { status: { token: string } }).status.token;
  }

  /** Compacts etcd at its current revision: watches from any older resourceVersion then get 410 Gone. */
  async compactEtcd(): Promise<number> {
    const base = `http://127.0.0.1:${this.state.etcdPort}`;
    const status = await fetch(`${base}/v3/maintenance/status`, { method: 'POST', body: '{}' });
    const revision = Number(((await status.json()) as { header: { revision: string } }).header.revision);
    const r = await fetch(`${base}/v3/kv/compaction`, { method: 'POST', body: JSON.stringify({ revision, physical: true }) });
    if (!r.ok) throw new ControlPlaneError(`etcd compaction at ${revision}: HTTP ${r.status} ${await r.text()}`);
    return revision;
  }

  /** The audit log so far (needs `audit: true`). */
  auditEvents(): AuditEvent[] {
    let text = '';
    try {
      text = readFileSync(path.join(this.state.dir, 'logs', 'audit.log'), 'utf8');
    } catch {
      return [];
    }
    return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditEvent);
  }

  apiServerRunning(): boolean {
    return isAlive(this.state.apiPid);
  }

  async stopApiServer(): Promise<void> {
    await stopPid(this.state.apiPid, 10_000);
    this.state.apiPid = undefined;
    this.save();
  }

  async startApiServer(readyTimeoutMs = 90_000): Promise<void> {
    if (this.apiServerRunning()) return;
    this.state.apiPid = spawnDetached(apiServerArgs(this.state), this.log('apiserver'));
    this.save();
    await this.waitReady(readyTimeoutMs);
  }

  /** kube-apiserver stopped and started again on the same etcd and port, `downMs` of outage between. */
  async restartApiServer(downMs = 0): Promise<void> {
    await this.stopApiServer();
    if (downMs) await sleep(downMs);
    await this.startApiServer();
  }

  /** Both processes stopped and the directory removed. Safe to call twice. */
  async stop(): Promise<void> {
    await stopPid(this.state.apiPid, 10_000);
    await stopPid(this.state.etcdPid, 10_000);
    rmSync(this.state.dir, { recursive: true, force: true });
  }

  private save(): void {
    writeFileSync(path.join(this.state.dir, STATE), JSON.stringify(this.state, null, 2));
  }

  private writeAdminKubeconfig(): void {
    writeAtomically(this.kubeconfigPath, this.adminKubeconfig());
  }

  private async startEtcd(readyTimeoutMs = 30_000): Promise<void> {
    this.state.etcdPid = spawnDetached(etcdArgs(this.state), this.log('etcd'));
    this.save();
    await this.poll('etcd', this.state.etcdPid, this.log('etcd'), readyTimeoutMs, async () => {
      const r = await fetch(`http://127.0.0.1:${this.state.etcdPort}/health`);
      return r.ok && ((await r.json()) as { health?: string }).health === 'true';
    });
  }

  private async waitReady(readyTimeoutMs: number): Promise<void> {
    const tls = { ca: this.caPem };
    await this.poll('kube-apiserver', this.state.apiPid!, this.log('apiserver'), readyTimeoutMs, async () => (await httpsCall(`${this.url}/readyz`, tls, 'GET', undefined, 2000)).status === 200);
  }

  private async poll(what: string, pid: number, log: string, timeoutMs: number, ok: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await ok().catch(() => false)) return;
      if (!isAlive(pid)) throw new ControlPlaneError(`${what} exited before it was ready (see ${log}):\n${tail(log)}`);
      if (Date.now() > deadline) throw new ControlPlaneError(`${what} not ready after ${timeoutMs / 1000} s (see ${log}):\n${tail(log)}`);
      await sleep(100);
    }
  }
}

function tail(file: string, lines = 8): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
