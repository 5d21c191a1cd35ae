/**
 * The peer probe's I/O edge: one raw ICMP socket per (VTEP address, uplink), through koffi (util/libc.ts).
 * Bound to the VTEP address and the uplink (SO_BINDTODEVICE), so requests leave the way the tunnels do and
 * only replies to this VTEP, arriving on that uplink, are read; an ICMP_FILTER passes echo replies alone.
 * Non-blocking: the prober polls it from a timer, the Node event loop never waits on the kernel.
 */
import * as libc from '../util/libc.js';

export interface ProbeSocketSpec {
  /** This node's VTEP address: the source of the requests. */
  localVtep: string;
  /** The cluster network's uplink device. */
  uplink: string;
  /** Named namespace holding the uplink (in-process test agents); the socket is made there. */
  netns?: string;
}

export interface Datagram {
  /** The IPv4 packet as read from the raw socket (IP header included). */
  data: Buffer;
  /** When the kernel received it, ns of CLOCK_REALTIME (SIOCGSTAMP). */
  atNs: bigint;
}

export interface ProbeSocket {
  /** Sends one ICMP message to `ip`; returns when it left, ns of CLOCK_REALTIME (the receive timestamps' clock). */
  send(ip: string, icmp: Buffer): bigint;
  /** The next queued datagram, or undefined when none is (never blocks). */
  receive(): Datagram | undefined;
  close(): void;
}

/** Everything but echo reply (type 0) is dropped in the kernel before it reaches the socket. */
const ONLY_ECHO_REPLY = 0xfffffffe;

export function openProbeSocket(spec: ProbeSocketSpec): ProbeSocket {
  const fd = libc.inNetns(spec.netns, () => libc.socket(libc.AF_INET, libc.SOCK_RAW | libc.SOCK_NONBLOCK | libc.SOCK_CLOEXEC, libc.IPPROTO_ICMP));
  try {
    const filter = Buffer.alloc(4);
    filter.writeUInt32LE(ONLY_ECHO_REPLY);
    libc.setsockopt(fd, libc.SOL_RAW, libc.ICMP_FILTER, filter, 'setsockopt(ICMP_FILTER)');
    libc.setsockopt(fd, libc.SOL_SOCKET, libc.SO_BINDTODEVICE, Buffer.from(`${spec.uplink}\0`), `setsockopt(SO_BINDTODEVICE ${spec.uplink})`);
    libc.bind(fd, libc.sockaddrIn(spec.localVtep), `bind(${spec.localVtep})`);
  } catch (err) {
    libc.closeFd(fd);
    throw err;
  }
  const buf = Buffer.alloc(2048);
  let closed = false;
  return {
    send(ip, icmp) {
      const at = libc.realtimeNs();
      libc.sendto(fd, icmp, libc.sockaddrIn(ip), `sendto(${ip})`);
      return at;
    },
    receive() {
      if (closed) return undefined;
      const n = libc.recvNow(fd, buf);
      if (n === undefined) return undefined;
      // The kernel's receive time, not the poll's: the RTT does not include how late the timer ran.
      let atNs: bigint;
      try {
        atNs = libc.lastReceivedNs(fd);
      } catch {
        atNs = libc.realtimeNs();
      }
      return { data: Buffer.from(buf.subarray(0, n)), atNs };
    },
    close() {
      if (closed) return;
      closed = true;
      libc.closeFd(fd);
    },
  };
}
