/**
 * Upgrade tests: the previous ABI's build of vxmesh, and a long-lived TCP connection to watch across it.
 *
 * The previous build is main before the per-network flow shares (e0fdeeb: vxm_ct one flat LRU of flows),
 * extracted with `git archive` and built by its own build/build-bpf.sh (the same clang flags) and, when its
 * agent and lab are to run as processes, its own tsc.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO } from './lab.js';

export const OLD_COMMIT = 'e0fdeeb24f04cdfa478822f557be749257b40344';

/** Extracts and builds the previous build in a temporary directory; returns it (remove it when done). */
export function buildOldTree(o: { dist?: boolean } = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vxm-upgrade-old-'));
  execFileSync('sh', ['-c', `git -C ${REPO} archive ${OLD_COMMIT} src bpf build tsconfig.json package.json | tar -x -C ${dir}`]);
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(dir, 'node_modules'));
  execFileSync('bash', ['build/build-bpf.sh'], { cwd: dir, stdio: 'ignore' });
  if (o.dist) execFileSync(path.join(REPO, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: dir, stdio: 'ignore' });
  return dir;
}

export interface LineProcess {
  proc: ChildProcess;
  lines: string[];
  send(line: string): void;
  /** Whether a line matching `re` arrived within `ms`. */
  wait(re: RegExp, ms: number): Promise<boolean>;
}

/** A line-oriented python process in namespace `netns`; `lines` collects its stdout. Kill it when done. */
export function pythonIn(netns: string, code: string): LineProcess {
  const proc = spawn('ip', ['netns', 'exec', netns, '/usr/bin/python3', '-u', '-c', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  return {
    proc, lines,
    send: (line) => void proc.stdin!.write(`${line}\n`),
    wait: async (re, ms) => {
      const t0 = Date.now();
      while (Date.now() - t0 < ms) {
        if (lines.some((l) => re.test(l))) return true;
        await new Promise((r) => setTimeout(r, 20));
      }
      return false;
    },
  };
}

/** The server: echoes the client's lines as `echo:<line>`, and pushes `push:<line>` for each line on its stdin. */
export const tcpServer = (port: number) => `
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', ${port})); s.listen(1)
print('listening')
c, _ = s.accept(); print('accepted')
def rd():
    for line in c.makefile('rb'): c.sendall(b'echo:' + line)
threading.Thread(target=rd, daemon=True).start()
for line in sys.stdin: c.sendall(('push:' + line).encode())
`;

/** The client: one connection to ip:port; stdin lines are sent, received lines printed. */
export const tcpClient = (ip: string, port: number) => `
import socket, sys, threading
c = socket.create_connection(('${ip}', ${port}), timeout=5); c.settimeout(None)
print('connected')
def rd():
    for line in c.makefile('rb'): print(line.decode().rstrip())
    print('closed')
threading.Thread(target=rd, daemon=True).start()
for line in sys.stdin: c.sendall(line.encode())
`;
