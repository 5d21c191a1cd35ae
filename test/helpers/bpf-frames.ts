/** Hand-built Ethernet frames for BPF_PROG_TEST_RUN tests. */
const mac = (m: string) => Buffer.from(m.split(':').map((x) => parseInt(x, 16)));
const ip = (a: string) => Buffer.from(a.split('.').map(Number));

export function eth(dst: string, src: string, type: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const t = Buffer.alloc(2);
  t.writeUInt16BE(type);
  return Buffer.concat([mac(dst), mac(src), t, payload]);
}

export function arp(op: 1 | 2, sha: string, spa: string, tha: string, tpa: string): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(1, 0);
  h.writeUInt16BE(0x0800, 2);
  h[4] = 6;
  h[5] = 4;
  h.writeUInt16BE(op, 6);
  return Buffer.concat([h, mac(sha), ip(spa), mac(tha), ip(tpa)]);
}

export function arpRequest(sha: string, spa: string, tpa: string): Buffer {
  return eth('ff:ff:ff:ff:ff:ff', sha, 0x0806, arp(1, sha, spa, '00:00:00:00:00:00', tpa));
}

/** IPv4 header (20 bytes, no checksum needed by the programs) + UDP-ish payload. */
export function ipv4(src: string, dst: string, payload = Buffer.alloc(8), ihl = 5): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x40 | ihl;
  h.writeUInt16BE(20 + payload.length, 2);
  h[8] = 64;
  h[9] = 17;
  ip(src).copy(h, 12);
  ip(dst).copy(h, 16);
  return Buffer.concat([h, payload]);
}

/** A UDP header (ports in host order, no checksum) followed by `len` zero bytes. */
export function udp(sport: number, dport: number, len = 240): Buffer {
  const u = Buffer.alloc(8 + len);
  u.writeUInt16BE(sport, 0);
  u.writeUInt16BE(dport, 2);
  u.writeUInt16BE(u.length, 4);
  return u;
}

/** An IPv6 header (next header: no next header) with `payload`. */
export function ipv6(payload = Buffer.alloc(8)): Buffer {
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h.writeUInt16BE(payload.length, 4);
  h[6] = 59;
  h[7] = 64;
  h[8] = 0xfe;
  h[9] = 0x80;
  h[39] = 1;
  return Buffer.concat([h, payload]);
}

export function vlan(dst: string, src: string, vid: number, inner: number, payload: Buffer): Buffer {
  const tag = Buffer.alloc(4);
  tag.writeUInt16BE(vid, 0);
  tag.writeUInt16BE(inner, 2);
  return eth(dst, src, 0x8100, Buffer.concat([tag, payload]));
}

export const parseMac = (b: Buffer, off: number) => [...b.subarray(off, off + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
export const parseIp = (b: Buffer, off: number) => [...b.subarray(off, off + 4)].join('.');

/** UDP header + BOOTP/DHCP body (240 bytes with the magic cookie): op 1 = request, 2 = reply. */
export function dhcp(sport: number, dport: number, op: 1 | 2, chaddr: string): Buffer {
  const udp = Buffer.alloc(8 + 240);
  udp.writeUInt16BE(sport, 0);
  udp.writeUInt16BE(dport, 2);
  udp.writeUInt16BE(udp.length, 4);
  udp[8] = op;
  udp[9] = 1; // htype Ethernet
  udp[10] = 6; // hlen
  mac(chaddr).copy(udp, 8 + 28);
  udp.writeUInt32BE(0x63825363, 8 + 236);
  return udp;
}
