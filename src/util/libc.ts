/**
 * libc.ts: typed koffi bindings to the few libc calls vxmesh makes itself, without libbpf (which only bpf
 * mode needs): setns (inNetns) and a raw ICMP socket for the peer probe (agent/icmp-socket.ts). Every failing
 * call becomes a SyscallError(op, errno). All calls are synchronous and act in the calling thread's CURRENT
 * network namespace.
 */
import fs from 'node:fs';
import koffi from 'koffi';
import { SyscallError } from '../errors.js';

const libc = koffi.load('libc.so.6');

/** struct timespec / struct timeval on 64-bit Linux: two longs. */
koffi.struct('vxm_time_pair', { sec: 'int64_t', frac: 'int64_t' });

// ssize_t is intptr_t on Linux (koffi has no ssize_t). Buffers are passed as void * so the kernel writes into them.
const f = {
  setns: libc.func('int setns(int fd, int nstype)'),
  socket: libc.func('int socket(int domain, int type, int protocol)'),
  bind: libc.func('int bind(int fd, const void *addr, uint32_t len)'),
  setsockopt: libc.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t len)'),
  sendto: libc.func('intptr_t sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t alen)'),
  recvfrom: libc.func('intptr_t recvfrom(int fd, void *buf, size_t len, int flags, void *addr, void *alen)'),
  ioctlTime: libc.func('int ioctl(int fd, unsigned long request, _Out_ vxm_time_pair *out)'),
  clockGettime: libc.func('int clock_gettime(int clock, _Out_ vxm_time_pair *out)'),
  close: libc.func('int close(int fd)'),
};

export const AF_INET = 2;
export const SOCK_RAW = 3;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const IPPROTO_ICMP = 1;
export const SOL_SOCKET = 1;
export const SO_BINDTODEVICE = 25;
export const SOL_RAW = 255;
export const ICMP_FILTER = 1;
export const MSG_DONTWAIT = 0x40;
const EAGAIN = 11;
const SIOCGSTAMP = 0x8906;
const CLOCK_REALTIME = 0;
const CLONE_NEWNET = 0x40000000;

function check(op: string, rc: number | bigint): number {
  const n = Number(rc);
  if (n < 0) throw new SyscallError(op, koffi.errno());
  return n;
}

/** struct sockaddr_in for an IPv4 address (port 0): family in host order, address in network order. */
export function sockaddrIn(ip: string): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(AF_INET, 0);
  ip.split('.').forEach((o, i) => b.writeUInt8(Number(o), 4 + i));
  return b;
}

export function socket(domain: number, type: number, protocol: number): number {
  return check('socket', f.socket(domain, type, protocol) as number);
}

export function bind(fd: number, addr: Buffer, op = 'bind'): void {
  check(op, f.bind(fd, addr, addr.length) as number);
}

export function setsockopt(fd: number, level: number, name: number, value: Buffer, op = 'setsockopt'): void {
  check(op, f.setsockopt(fd, level, name, value, value.length) as number);
}

/** Sends one datagram; returns the bytes sent. */
export function sendto(fd: number, data: Buffer, addr: Buffer, op = 'sendto'): number {
  return check(op, f.sendto(fd, data, data.length, 0, addr, addr.length) as number);
}

/** One datagram into `buf` without blocking; its length, or undefined when none is queued (EAGAIN). */
export function recvNow(fd: number, buf: Buffer): number | undefined {
  const n = Number(f.recvfrom(fd, buf, buf.length, MSG_DONTWAIT, null, null));
  if (n >= 0) return n;
  const errno = koffi.errno();
  if (errno === EAGAIN) return undefined;
  throw new SyscallError('recvfrom', errno);
}

/** When the kernel received the datagram last read from `fd` (SIOCGSTAMP), in ns of CLOCK_REALTIME. */
export function lastReceivedNs(fd: number): bigint {
  const t = { sec: 0n, frac: 0n };
  check('ioctl(SIOCGSTAMP)', f.ioctlTime(fd, SIOCGSTAMP, t) as number);
  return BigInt(t.sec) * 1_000_000_000n + BigInt(t.frac) * 1000n;
}

/** CLOCK_REALTIME in ns: the clock the kernel's receive timestamps are on. */
export function realtimeNs(): bigint {
  const t = { sec: 0n, frac: 0n };
  check('clock_gettime', f.clockGettime(CLOCK_REALTIME, t) as number);
  return BigInt(t.sec) * 1_000_000_000n + BigInt(t.frac);
}

export function closeFd(fd: number): void {
  if (fd >= 0) f.close(fd);
}

/**
 * Runs `fn` with the calling thread inside the named netns (/run/netns/<name>), then returns to the
 * original one. Synchronous on purpose: no other JS (and no child process spawn) can interleave. What `fn`
 * creates (a socket, a TC hook) stays in the namespace it was made in.
 */
export function inNetns<T>(netns: string | undefined, fn: () => T): T {
  if (!netns) return fn();
  const self = fs.openSync('/proc/thread-self/ns/net', 'r');
  const target = fs.openSync(`/run/netns/${netns}`, 'r');
  try {
    if ((f.setns(target, CLONE_NEWNET) as number) < 0) throw new SyscallError(`setns(${netns})`, koffi.errno());
    try {
      return fn();
    } finally {
      if ((f.setns(self, CLONE_NEWNET) as number) < 0) {
        // Cannot continue in the wrong namespace: every later call would act on the node.
        throw new SyscallError('setns(back to own netns)', koffi.errno());
      }
    }
  } finally {
    fs.closeSync(target);
    fs.closeSync(self);
  }
}
