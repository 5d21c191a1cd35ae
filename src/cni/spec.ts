/**
 * What the CNI specification (1.1, containernetworking/cni SPEC.md) fixes for the runtime side: the
 * well-known error codes and the error object a failing plugin prints on stdout (`{cniVersion, code,
 * msg, details}`, non-zero exit). vxmesh's plugin (cni/internal/spec) answers with these codes. Pure.
 */

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
  /** vxmesh: the pod is not a KubeVirt launcher pod whose VMI the plugin can name. */
  unknownVmi: 100,
  /** vxmesh: CHECK found the attachment differing from what ADD made. */
  checkFailed: 101,
} as const;

export interface CniErrorJson {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}
