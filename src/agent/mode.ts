/**
 * Choosing the dataplane: `kernel` always works here; `bpf` needs the precompiled objects and a kernel that
 * loads them; `auto` takes bpf when its probe passes, else kernel, logged at warn and published in the
 * VxlanStatus (DataplaneMode condition). On a node that already runs bpf (pins present) a failed probe is
 * retried with backoff and never retires the pins unless bpf has become impossible there: no BTF, objects
 * missing, or the probe still failing and the pinned programs not of this build (so they cannot be reused).
 * Both modules are imported lazily so the agent runs (in kernel mode) before the bpf dataplane is built.
 */
import { DataplaneError } from '../errors.js';
import { pinsPresent } from './leftovers.js';
import type { Dataplane, DataplaneMode, DataplaneOptions, ModeRequest, ProbeResult } from '../dataplane/dataplane.js';

interface DataplaneModule {
  create(opts: DataplaneOptions): Dataplane;
  probe(): Promise<ProbeResult> | ProbeResult;
  /** bpf: the pinned programs under this bpffs come from this build (reused without loading anything). */
  pinnedCurrent?(bpffs?: string): boolean;
}

// Variable specifiers keep tsc from requiring the modules at build time.
const KERNEL_MODULE = '../dataplane/kernel/index.js';
const BPF_MODULE = '../dataplane/bpf/index.js';

export async function loadDataplaneModule(mode: DataplaneMode): Promise<DataplaneModule | { missing: string }> {
  const spec = mode === 'bpf' ? BPF_MODULE : KERNEL_MODULE;
  let m: Record<string, unknown>;
  try {
    m = (await import(spec)) as Record<string, unknown>;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND') return { missing: `${mode} dataplane not built` };
    return { missing: `${mode} dataplane failed to load: ${(err as Error).message}` };
  }
  const create = mode === 'bpf' ? m.createBpfDataplane : m.createKernelDataplane;
  const probe = mode === 'bpf' ? m.probeBpf : m.probeKernel;
  if (typeof create !== 'function') return { missing: `${mode} dataplane not built (no create function)` };
  return {
    create: create as DataplaneModule['create'],
    probe: typeof probe === 'function' ? (probe as DataplaneModule['probe']) : () => ({ ok: true }),
    ...(typeof m.pinnedProgramsCurrent === 'function' ? { pinnedCurrent: m.pinnedProgramsCurrent as DataplaneModule['pinnedCurrent'] } : {}),
  };
}

/**
 * Test hook, for fault-injection tests only: `VXMESH_TEST_FAIL_BPF_PROBE=N` makes the first N bpf probes
 * of this process fail with a transient-looking reason (as a busy node's verifier or netns creation may).
 */
export const TEST_FAIL_PROBE_ENV = 'VXMESH_TEST_FAIL_BPF_PROBE';
let probesFailedByHook = 0;

export async function probeMode(mode: DataplaneMode): Promise<ProbeResult> {
  if (mode === 'bpf' && probesFailedByHook < Number(process.env[TEST_FAIL_PROBE_ENV] ?? 0)) {
    probesFailedByHook++;
    return { ok: false, reason: `probe failed by the test hook ${TEST_FAIL_PROBE_ENV} (${probesFailedByHook} of ${process.env[TEST_FAIL_PROBE_ENV]})` };
  }
  const m = await loadDataplaneModule(mode);
  if ('missing' in m) return { ok: false, reason: m.missing };
  try {
    return await m.probe();
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

export interface SelectedDataplane {
  dataplane: Dataplane;
  mode: DataplaneMode;
  /** Why auto fell back to kernel (undefined otherwise): logged at warn and published (DataplaneMode condition). */
  fallbackReason?: string;
}

export interface SelectOptions {
  /** Retry delays of the bpf probe on a node that already runs bpf (default 250, 500, 1000, 2000 ms). */
  retryDelaysMs?: number[];
  /** Is there a bpf dataplane on this node already (pins present)? Default: leftovers.pinsPresent(bpffs). */
  bpfRunning?: boolean;
}

const DEFAULT_RETRY_MS = [250, 500, 1000, 2000];

/**
 * Pure: does a probe failure mean bpf cannot run here at all (no retry helps), or may it be transient?
 * Impossible: no kernel BTF, BPF objects or the bpf module missing (not built), the module failing to load.
 */
export function bpfImpossible(reason: string): boolean {
  return /kernel has no BTF|BPF object .* missing|dataplane not built|dataplane failed to load/.test(reason);
}

/** Resolves a mode request to a dataplane; throws DataplaneError when the requested mode cannot run. */
export async function selectDataplane(req: ModeRequest, opts: DataplaneOptions, sel: SelectOptions = {}): Promise<SelectedDataplane> {
  if (req === 'kernel') return { dataplane: await createDataplane('kernel', opts), mode: 'kernel' };
  let probe = await probeMode('bpf');
  if (probe.ok) return { dataplane: await createDataplane('bpf', opts), mode: 'bpf' };
  const first = probe.reason ?? 'bpf probe failed';
  // A node whose traffic bpf carries now: a failed probe must not retire working programs and maps.
  const running = sel.bpfRunning ?? pinsPresent(opts.bpffs);
  if (running) {
    const delays = sel.retryDelaysMs ?? DEFAULT_RETRY_MS;
    for (let i = 0; i < delays.length && !probe.ok && !bpfImpossible(probe.reason ?? ''); i++) {
      opts.log.warn({ attempt: i + 1, reason: probe.reason, retryInMs: delays[i] }, 'bpf probe failed on a node running bpf, retrying');
      await new Promise((r) => setTimeout(r, delays[i]));
      probe = await probeMode('bpf');
    }
    if (probe.ok) {
      opts.log.warn({ firstReason: first }, 'bpf probe passed on retry, keeping bpf');
      return { dataplane: await createDataplane('bpf', opts), mode: 'bpf' };
    }
    // Still failing, but not impossible, and the running programs are this build's: the agent loads nothing,
    // it reuses them, so what the probe checks is not needed to keep this node in bpf.
    if (!bpfImpossible(probe.reason ?? '') && (await pinnedProgramsOfThisBuild(opts.bpffs))) {
      opts.log.warn({ reason: probe.reason, attempts: delays.length + 1 }, 'bpf probe keeps failing, but the pinned programs of this build are running: keeping bpf');
      return { dataplane: await createDataplane('bpf', opts), mode: 'bpf' };
    }
  }
  if (req === 'bpf') throw new DataplaneError('BPF_UNAVAILABLE', `--mode bpf: the bpf dataplane cannot run here: ${probe.reason ?? first}`);
  const fallbackReason = probe.reason ?? first;
  opts.log.warn({ mode: 'kernel', reason: fallbackReason, bpfWasRunning: running }, 'auto mode: bpf unavailable, using kernel dataplane');
  return { dataplane: await createDataplane('kernel', opts), mode: 'kernel', fallbackReason };
}

async function pinnedProgramsOfThisBuild(bpffs?: string): Promise<boolean> {
  const m = await loadDataplaneModule('bpf');
  return !('missing' in m) && m.pinnedCurrent?.(bpffs) === true;
}

/** What the DataplaneMode condition says after auto fell back (undefined: the mode is the one requested). */
export function modeNote(req: ModeRequest, s: SelectedDataplane): string | undefined {
  return req === 'auto' && s.fallbackReason ? `auto mode fell back to the kernel dataplane: ${s.fallbackReason}` : undefined;
}

export async function createDataplane(mode: DataplaneMode, opts: DataplaneOptions): Promise<Dataplane> {
  const m = await loadDataplaneModule(mode);
  if ('missing' in m) throw new DataplaneError('DATAPLANE_MISSING', m.missing);
  return m.create(opts);
}
