/**
 * The plugin's network configuration, as the runtime (libcni under Multus) hands it over on stdin: the
 * `plugins[]` entry of the NAD's conflist with `name` and `cniVersion` of the list injected, plus
 * `runtimeConfig` (capabilities the entry declares, e.g. `mac`) and, for CHECK/DEL, `prevResult`.
 *
 *   {"cniVersion":"1.0.0","name":"blue","type":"vxmesh-cni","vni":100,"mtu":1450,
 *    "capabilities":{"mac":true},"runtimeConfig":{"mac":"02:00:00:00:00:01"}}
 *
 * `vni` names the network's bridge `vxb<vni>` (dataplane/names.ts), which the agent builds on every
 * member node; `mtu` is the overlay MTU the VM's interface gets (the uplink MTU minus the 50 bytes of
 * VXLAN encapsulation, or the VxlanNetwork's own). Pure.
 */
import { names } from '../dataplane/names.js';
import { CniCode, CniError, isSupportedVersion, SUPPORTED_VERSIONS } from './spec.js';

export interface CniInterface {
  name: string;
  mac?: string;
  /** CNI 1.1. */
  mtu?: number;
  /** The container's network namespace path; absent for host-side interfaces. */
  sandbox?: string;
}

/** The ADD result (SPEC.md "Success"): vxmesh assigns no addresses (its IPAM answers DHCP in the overlay). */
export interface CniResult {
  cniVersion: string;
  interfaces: CniInterface[];
  ips: unknown[];
  dns: Record<string, unknown>;
}

export interface VxmeshNetConf {
  cniVersion: string;
  name: string;
  type: string;
  vni: number;
  mtu: number;
  /** The bridge the VM's port joins (derived from the VNI). */
  bridge: string;
  /** `runtimeConfig.mac`: the MAC the runtime asks for (Multus: the network selection element's `mac`). */
  runtimeMac?: string;
  prevResult?: CniResult;
}

export const MIN_MTU = 576;
export const MAX_MTU = 9216;
const MAX_VNI = 16_777_215;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/** The cniVersion a config names, when it names a string one (for error objects). */
export function configVersion(stdin: string): string | undefined {
  try {
    const v = (JSON.parse(stdin) as Record<string, unknown>).cniVersion;
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

export function parseNetConf(stdin: string): VxmeshNetConf {
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (cause) {
    throw new CniError(CniCode.decodeFailure, 'cannot decode the network configuration', cause instanceof Error ? cause.message : String(cause));
  }
  if (!isObj(raw)) throw new CniError(CniCode.decodeFailure, 'the network configuration is not a JSON object');
  const bad = (field: string, problem: string) => new CniError(CniCode.invalidConfig, `invalid network configuration: ${field} ${problem}`);
  const { cniVersion, name, type, vni, mtu } = raw;
  if (typeof cniVersion !== 'string' || !cniVersion) throw bad('cniVersion', 'is missing');
  if (!isSupportedVersion(cniVersion)) {
    throw new CniError(CniCode.incompatibleVersion, `incompatible CNI version ${cniVersion}`, `vxmesh-cni supports ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  if (typeof name !== 'string' || !name) throw bad('name', 'is missing');
  if (typeof type !== 'string' || !type) throw bad('type', 'is missing');
  if (!isInt(vni) || vni < 1 || vni > MAX_VNI) throw bad('vni', `must be an integer in 1..${MAX_VNI} (got ${JSON.stringify(vni)})`);
  if (!isInt(mtu) || mtu < MIN_MTU || mtu > MAX_MTU) throw bad('mtu', `must be an integer in ${MIN_MTU}..${MAX_MTU} (got ${JSON.stringify(mtu)})`);
  const rc = raw.runtimeConfig;
  if (rc !== undefined && !isObj(rc)) throw bad('runtimeConfig', 'must be an object');
  const mac = rc?.mac;
  if (mac !== undefined && typeof mac !== 'string') throw bad('runtimeConfig.mac', 'must be a string');
  const prev = raw.prevResult;
  if (prev !== undefined && (!isObj(prev) || !Array.isArray(prev.interfaces))) throw bad('prevResult', 'must be a result with interfaces');
  return {
    cniVersion, name, type, vni, mtu,
    bridge: names.bridge(vni),
    ...(mac ? { runtimeMac: mac } : {}),
    ...(prev ? { prevResult: prev as unknown as CniResult } : {}),
  };
}

/** A unicast MAC in lowercase colon form, or undefined when `mac` is not one. */
export function normalizeMac(mac: string): string | undefined {
  const m = /^([0-9a-f]{2})([:-][0-9a-f]{2}){5}$/i.exec(mac.trim());
  if (!m) return undefined;
  const out = mac.trim().toLowerCase().replace(/-/g, ':');
  if ((parseInt(out.slice(0, 2), 16) & 1) === 1 || out === '00:00:00:00:00:00') return undefined;
  return out;
}
