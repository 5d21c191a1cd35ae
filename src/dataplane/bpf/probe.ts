/**
 * probe.ts: can this node run the bpf dataplane? bpf() works, kernel BTF exists, both objects load
 * (the verifier accepts them) and a clsact hook can be created (in a throwaway namespace).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ProbeResult } from '../dataplane.js';
import { run } from '../../util/exec.js';
import * as bpf from './libbpf.js';
import { PROGRAMS, objectDir } from './loader.js';

export async function probeBpf(dir = objectDir()): Promise<ProbeResult> {
  if (!fs.existsSync('/sys/kernel/btf/vmlinux')) return { ok: false, reason: 'kernel has no BTF (/sys/kernel/btf/vmlinux missing)' };
  try {
    for (const p of Object.values(PROGRAMS)) {
      const file = path.join(dir, p.object);
      if (!fs.existsSync(file)) return { ok: false, reason: `BPF object ${file} missing (run build/build-bpf.sh)` };
      const obj = bpf.openObject(file);
      try {
        bpf.loadObject(obj, p.object);
      } finally {
        bpf.closeObject(obj);
      }
    }
  } catch (err) {
    return { ok: false, reason: `loading BPF programs failed: ${(err as Error).message}`.slice(0, 600) };
  }
  const ns = `vxm-probe-${crypto.randomBytes(3).toString('hex')}`;
  try {
    await run(['ip', 'netns', 'add', ns]);
    bpf.inNetns(ns, () => {
      bpf.tcHookCreate(1);
      bpf.tcHookDestroy(1);
    });
  } catch (err) {
    return { ok: false, reason: `clsact hook cannot be created: ${(err as Error).message}` };
  } finally {
    await run(['ip', 'netns', 'del', ns], { allowFailure: true });
  }
  return { ok: true };
}
