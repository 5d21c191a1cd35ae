/**
 * What the CNI specification (1.1, containernetworking/cni SPEC.md) fixes for every plugin: the versions
 * vxmesh's plugin speaks, the well-known error codes and the error object a failing plugin prints on
 * stdout (`{cniVersion, code, msg, details}`, non-zero exit). Pure.
 */
import { VxmeshError } from '../errors.js';

/** Versions whose configuration and result format the plugin handles (CHECK from 0.4.0, STATUS from 1.1.0). */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export const LATEST_VERSION = '1.1.0';

/** Well-known codes (SPEC.md "Error"): 1-99 are reserved by the spec, 100+ are the plugin's. */
export const CniCode = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnv: 4,
  ioFailure: 5,
  decodeFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  /** STATUS: the plugin cannot serve ADDs now. */
  notAvailable: 50,
  /** vxmesh: the pod is not a KubeVirt launcher pod whose VMI the plugin can name (see binding.ts). */
  unknownVmi: 100,
  /** vxmesh: CHECK found the attachment differing from what ADD made. */
  checkFailed: 101,
} as const;

export class CniError extends VxmeshError {
  readonly cniCode: number;
  readonly details?: string;
  constructor(cniCode: number, msg: string, details?: string, options?: { cause?: unknown }) {
    super('CNI', msg, options);
    this.cniCode = cniCode;
    this.details = details;
  }
}

export interface CniErrorJson {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

/** The error object for `err`; anything not a CniError is an I/O failure with its message as details. */
export function errorJson(err: unknown, cniVersion: string = LATEST_VERSION): CniErrorJson {
  if (err instanceof CniError) return { cniVersion, code: err.cniCode, msg: err.message, ...(err.details ? { details: err.details } : {}) };
  const message = err instanceof Error ? err.message : String(err);
  return { cniVersion, code: CniCode.ioFailure, msg: 'vxmesh-cni failed', details: message };
}

/** -1 / 0 / 1 ordering of two dotted versions (numeric parts). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return Math.sign(d);
  }
  return 0;
}

export const isSupportedVersion = (v: string): boolean => (SUPPORTED_VERSIONS as readonly string[]).includes(v);
