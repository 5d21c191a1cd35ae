/** Small HTTPS calls to the API server with the control plane's CA and a client certificate (no kubeconfig needed). */
import { request } from 'node:https';

export interface TlsIdentity {
  ca: string;
  cert?: string;
  key?: string;
}

export interface HttpsResult {
  status: number;
  body: string;
}

export function httpsCall(url: string, tls: TlsIdentity, method = 'GET', body?: unknown, timeoutMs = 5000): Promise<HttpsResult> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request(url, {
      method, ca: tls.ca, cert: tls.cert, key: tls.key, timeout: timeoutMs,
      headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {},
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}
