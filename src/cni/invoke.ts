/**
 * Runs the CNI plugins of a NetworkAttachmentDefinition the way Multus does through libcni: the NAD's
 * config is a conflist (`plugins[]`) or a single plugin; each plugin binary `<type>` is looked up in
 * CNI_PATH and executed with CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_PATH and Multus's
 * CNI_ARGS (`IgnoreUnknown=true;K8S_POD_NAMESPACE=…;K8S_POD_NAME=…;K8S_POD_INFRA_CONTAINER_ID=…;
 * K8S_POD_UID=…`, plus `MAC=…` when the network selection element asks for a MAC). Its stdin is the
 * plugin entry with the list's `name` and `cniVersion` injected, `runtimeConfig` holding the runtime
 * arguments of the capabilities the entry declares (`mac`), and `prevResult` (the previous plugin's
 * result on ADD; the ADD result on CHECK and DEL). ADD runs the plugins in order, DEL in reverse.
 * Used by the lab and the tests to plug VMs with the NAD's own config.
 */
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { run } from '../util/exec.js';
import { VxmeshError } from '../errors.js';
import type { CniErrorJson } from './spec.js';

export interface Attachment {
  containerId: string;
  /** Path of the container's network namespace. */
  netns: string;
  ifname: string;
  podNamespace: string;
  podName: string;
  podUid?: string;
  /** The network selection element's `mac`. */
  mac?: string;
}

export interface InvokeOptions {
  /** Directories searched for plugin binaries (CNI_PATH). */
  cniPath: string[];
  /** Named network namespace the plugins run in (the node's); default: this process's. */
  hostNetns?: string;
}

/** A plugin's error object (SPEC.md "Error"), or a plugin that could not be run. */
export class CniInvokeError extends VxmeshError {
  readonly cniCode: number;
  readonly details?: string;
  readonly plugin: string;
  constructor(plugin: string, e: CniErrorJson) {
    super('CNI_INVOKE', `CNI plugin ${plugin}: ${e.msg}${e.details ? ` (${e.details})` : ''} [code ${e.code}]`);
    this.plugin = plugin;
    this.cniCode = e.code;
    this.details = e.details;
  }
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The plugin entries of a NAD config with list-level name/cniVersion (a single plugin is a list of one). Pure. */
export function pluginsOf(nadConfig: string): { name: string; cniVersion: string; plugins: Json[] } {
  const conf = JSON.parse(nadConfig) as unknown;
  if (!isObj(conf)) throw new VxmeshError('CNI_INVOKE', 'the NAD config is not a JSON object');
  const name = String(conf.name ?? '');
  const cniVersion = String(conf.cniVersion ?? '');
  if (Array.isArray(conf.plugins)) {
    const plugins = conf.plugins.filter(isObj);
    if (!plugins.length || plugins.some((p) => typeof p.type !== 'string' || !p.type)) throw new VxmeshError('CNI_INVOKE', 'every plugin of the NAD conflist needs a type');
    return { name, cniVersion, plugins };
  }
  if (typeof conf.type !== 'string' || !conf.type) throw new VxmeshError('CNI_INVOKE', "the NAD config has neither 'type' nor 'plugins'");
  return { name, cniVersion, plugins: [conf] };
}

/** libcni's buildOneConfig: the stdin of one plugin. Pure. */
export function pluginStdin(list: { name: string; cniVersion: string }, plugin: Json, runtime: { mac?: string }, prevResult?: unknown): string {
  const out: Json = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  const caps = isObj(plugin.capabilities) ? plugin.capabilities : {};
  const rc: Json = {};
  if (caps.mac === true && runtime.mac) rc.mac = runtime.mac;
  if (Object.keys(rc).length) out.runtimeConfig = rc;
  if (prevResult !== undefined) out.prevResult = prevResult;
  return JSON.stringify(out);
}

/** Multus's CNI_ARGS for an attachment. Pure. */
export function multusCniArgs(a: Attachment): string {
  const args: Array<[string, string]> = [
    ['IgnoreUnknown', 'true'],
    ['K8S_POD_NAMESPACE', a.podNamespace],
    ['K8S_POD_NAME', a.podName],
    ['K8S_POD_INFRA_CONTAINER_ID', a.containerId],
    ['K8S_POD_UID', a.podUid ?? ''],
  ];
  if (a.mac) args.push(['MAC', a.mac]);
  return args.map(([k, v]) => `${k}=${v}`).join(';');
}

async function findPlugin(type: string, dirs: string[]): Promise<string> {
  for (const d of dirs) {
    const p = path.join(d, type);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  throw new CniInvokeError(type, { cniVersion: '', code: 5, msg: `failed to find plugin "${type}" in path [${dirs.join(' ')}]` });
}

export interface ExecResult {
  stdout: string;
  exitCode: number;
  ms: number;
}

/** Executes one plugin binary with the CNI environment; the raw outcome. */
export async function execPlugin(command: string, type: string, a: Attachment | undefined, stdin: string, opts: InvokeOptions): Promise<ExecResult> {
  const bin = await findPlugin(type, opts.cniPath);
  const env: Record<string, string> = {
    CNI_COMMAND: command,
    CNI_PATH: opts.cniPath.join(':'),
    ...(a ? { CNI_CONTAINERID: a.containerId, CNI_NETNS: a.netns, CNI_IFNAME: a.ifname, CNI_ARGS: multusCniArgs(a) } : {}),
  };
  const argv = ['env', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), bin];
  const t0 = performance.now();
  const r = await run(argv, { netns: opts.hostNetns, input: stdin, allowFailure: true });
  return { stdout: r.stdout, exitCode: r.exitCode, ms: performance.now() - t0 };
}

function outcome(type: string, r: ExecResult): unknown {
  if (r.exitCode !== 0) {
    let e: CniErrorJson;
    try {
      e = JSON.parse(r.stdout) as CniErrorJson;
    } catch {
      e = { cniVersion: '', code: 999, msg: `exited ${r.exitCode} without an error object`, details: r.stdout.trim() };
    }
    throw new CniInvokeError(type, e);
  }
  return r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
}

/** ADD of every plugin in order; the last result (what Multus caches and reports). */
export async function addNetwork(nadConfig: string, a: Attachment, opts: InvokeOptions): Promise<unknown> {
  const list = pluginsOf(nadConfig);
  let prev: unknown;
  for (const p of list.plugins) prev = outcome(String(p.type), await execPlugin('ADD', String(p.type), a, pluginStdin(list, p, a, prev), opts));
  return prev;
}

export async function checkNetwork(nadConfig: string, a: Attachment, prevResult: unknown, opts: InvokeOptions): Promise<void> {
  const list = pluginsOf(nadConfig);
  for (const p of list.plugins) outcome(String(p.type), await execPlugin('CHECK', String(p.type), a, pluginStdin(list, p, a, prevResult), opts));
}

/** DEL of every plugin in reverse order (prevResult: the ADD result, when the caller kept it). */
export async function delNetwork(nadConfig: string, a: Attachment, prevResult: unknown, opts: InvokeOptions): Promise<void> {
  const list = pluginsOf(nadConfig);
  for (const p of [...list.plugins].reverse()) outcome(String(p.type), await execPlugin('DEL', String(p.type), a, pluginStdin(list, p, a, prevResult), opts));
}

export async function statusNetwork(nadConfig: string, opts: InvokeOptions): Promise<void> {
  const list = pluginsOf(nadConfig);
  for (const p of list.plugins) outcome(String(p.type), await execPlugin('STATUS', String(p.type), undefined, pluginStdin(list, p, {}), opts));
}
