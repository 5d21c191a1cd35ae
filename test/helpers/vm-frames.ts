/**
 * Helpers for attacks mounted from lab VMs (test/security): one dataplane per node in either mode,
 * captures that are proven running before a probe, hand-made frames sent with scapy, and the
 * drop counters of both modes (bpf: vxm_stats; kernel: the anti-spoofing table's rule counters).
 */
import { spawn } from 'node:child_process';
import { expect } from 'vitest';
import type { Lab } from './kernel-lab.js';
import { mountBpffs, unmountBpffs } from './bpffs.js';
import { createBpfDataplane, PinnedMaps, statPackets, type Verdict } from '../../src/dataplane/bpf/index.js';
import { createKernelDataplane } from '../../src/dataplane/kernel/index.js';
import type { Dataplane } from '../../src/dataplane/dataplane.js';
import type { NodeIntent } from '../../src/intent/types.js';
import { names } from '../../src/dataplane/names.js';
import { ANTISPOOF_TABLE } from '../../src/dataplane/kernel/antispoof.js';
import { run } from '../../src/util/exec.js';

export type Mode = 'bpf' | 'kernel';

/** One dataplane of `mode` per lab node (bpf: each on its own bpffs). */
export class Planes {
  private readonly bpffs = new Map<string, string>();
  private readonly planes = new Map<string, Dataplane>();

  constructor(private readonly lab: Lab, readonly mode: Mode) {}

  async plane(node: string): Promise<Dataplane> {
    if (!this.planes.has(node)) {
      const opts = { node: this.lab.nodeName(node), netns: this.lab.nodeNs(node), log: this.lab.log };
      if (this.mode === 'bpf') {
        if (!this.bpffs.has(node)) this.bpffs.set(node, await mountBpffs());
        this.planes.set(node, createBpfDataplane({ ...opts, bpffs: this.bpffs.get(node) }));
      } else this.planes.set(node, createKernelDataplane(opts));
    }
    return this.planes.get(node)!;
  }

  /** Reconciles every node (default: the lab's intent); expects no errors. */
  async reconcile(intentOf: (node: string) => NodeIntent = (n) => this.lab.intent(n)): Promise<void> {
    for (const n of this.lab.nodes) {
      const r = await (await this.plane(n)).reconcile(intentOf(n));
      expect(r.errors, `errors on ${n}`).toEqual([]);
    }
  }

  /** bpf: where `node`'s maps and programs are pinned. */
  pinDir(node: string): string {
    return names.pinDir(this.bpffs.get(node)!);
  }

  /** bpf: a vxm_stats counter of VNI `vni` on `node`. */
  stat(node: string, verdict: Verdict, vni = 100): number {
    const maps = PinnedMaps.open(names.pinDir(this.bpffs.get(node)!));
    try {
      return statPackets(maps.readStats(), vni, verdict);
    } finally {
      maps.close();
    }
  }

  async close(): Promise<void> {
    for (const p of this.planes.values()) await p.close();
    for (const dir of this.bpffs.values()) await unmountBpffs(dir);
  }
}

/** Packets counted by the anti-spoofing table's rules whose comment is `comment` (both modes). */
export async function nftDrops(netns: string, comment: string): Promise<number> {
  const r = await run(['nft', '-j', 'list', 'table', 'bridge', ANTISPOOF_TABLE], { netns });
  let n = 0;
  for (const it of JSON.parse(r.stdout).nftables as Array<{ rule?: { comment?: string; expr: Array<{ counter?: { packets: number } }> } }>) {
    if (it.rule?.comment !== comment) continue;
    for (const e of it.rule.expr) n += e.counter?.packets ?? 0;
  }
  return n;
}

/** A running tcpdump in `netns`; resolves once it is capturing. stop() returns the packet lines. */
export async function startCapture(netns: string, filter: string, iface = 'eth0'): Promise<{ stop(): Promise<string[]> }> {
  const p = spawn('ip', ['netns', 'exec', netns, 'tcpdump', '-l', '-nn', '-e', '-i', iface, filter], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (d) => (out += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump in ${netns} did not start: ${err}`)), 5000);
    p.stderr.on('data', (d) => {
      err += d;
      if (err.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return {
    async stop() {
      await new Promise((r) => setTimeout(r, 300));
      const done = new Promise((r) => p.once('exit', r));
      p.kill('SIGINT');
      await done;
      return out.split('\n').filter(Boolean);
    },
  };
}

/** Sends hand-made frames with scapy from `netns` (`frames`: scapy expressions, sent in order). */
export async function scapySend(netns: string, frames: string[], iface = 'eth0'): Promise<void> {
  const script = ['from scapy.all import *', ...frames.map((f) => `sendp(${f}, iface="${iface}", verbose=False)`)].join('\n');
  const r = await run(['/usr/bin/python3', '-c', script], { netns, allowFailure: true, timeoutMs: 30_000 });
  expect(r.exitCode, r.stderr).toBe(0);
  await new Promise((res) => setTimeout(res, 200));
}

/** Lines of a capture showing a UDP datagram to `port`. */
export const toPort = (lines: string[], port: number) => lines.filter((l) => new RegExp(`\\.${port}: UDP`).test(l)).length;
