/**
 * Choosing the dataplane: `kernel` always works here; `bpf` needs the precompiled objects and a kernel that
 * loads them; `auto` takes bpf when its probe passes, else kernel with one log line saying why.
 * Both modules are imported lazily so the agent runs (in kernel mode) before the bpf dataplane is built.
 */
import { DataplaneError } from '../errors.js';
import type { Dataplane, DataplaneMode, DataplaneOptions, ModeRequest, ProbeResult } from '../dataplane/dataplane.js';

interface DataplaneModule {
  create(opts: DataplaneOptions): Dataplane;
  probe(): Promise<ProbeResult> | ProbeResult;
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
  };
}

export async function probeMode(mode: DataplaneMode): Promise<ProbeResult> {
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
  /** Why auto fell back to kernel (undefined otherwise). */
  fallbackReason?: string;
}

/** Resolves a mode request to a dataplane; throws DataplaneError when the requested mode cannot run. */
export async function selectDataplane(req: ModeRequest, opts: DataplaneOptions): Promise<SelectedDataplane> {
  let fallbackReason: string | undefined;
  if (req === 'bpf' || req === 'auto') {
    const probe = await probeMode('bpf');
    if (probe.ok) return { dataplane: await createDataplane('bpf', opts), mode: 'bpf' };
    if (req === 'bpf') throw new DataplaneError('BPF_UNAVAILABLE', `--mode bpf: the bpf dataplane cannot run here: ${probe.reason ?? 'probe failed'}`);
    fallbackReason = probe.reason ?? 'bpf probe failed';
    opts.log.info({ mode: 'kernel', reason: fallbackReason }, 'auto mode: bpf unavailable, using kernel dataplane');
  }
  return { dataplane: await createDataplane('kernel', opts), mode: 'kernel', fallbackReason };
}

export async function createDataplane(mode: DataplaneMode, opts: DataplaneOptions): Promise<Dataplane> {
  const m = await loadDataplaneModule(mode);
  if ('missing' in m) throw new DataplaneError('DATAPLANE_MISSING', m.missing);
  return m.create(opts);
}
