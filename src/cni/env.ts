/**
 * The CNI invocation's environment (SPEC.md "Parameters"): CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS,
 * CNI_IFNAME, CNI_ARGS, CNI_PATH. CNI_ARGS is `KEY=VALUE;…`; Multus passes IgnoreUnknown, K8S_POD_NAMESPACE,
 * K8S_POD_NAME, K8S_POD_INFRA_CONTAINER_ID, K8S_POD_UID and, when the network selection element asks
 * for a MAC (KubeVirt does for an interface with `macAddress`), MAC. Unknown keys are an error unless
 * IgnoreUnknown is set (as the reference plugins' skel does). Pure.
 */
import { CniCode, CniError } from './spec.js';

export const COMMANDS = ['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'] as const;
export type CniCommand = (typeof COMMANDS)[number];

export interface CniArgs {
  podNamespace?: string;
  podName?: string;
  podUid?: string;
  infraContainerId?: string;
  mac?: string;
}

export interface CniEnv {
  command: CniCommand;
  containerId: string;
  netns: string;
  ifname: string;
  path: string[];
  args: CniArgs;
}

const KNOWN: Record<string, keyof CniArgs | undefined> = {
  K8S_POD_NAMESPACE: 'podNamespace',
  K8S_POD_NAME: 'podName',
  K8S_POD_UID: 'podUid',
  K8S_POD_INFRA_CONTAINER_ID: 'infraContainerId',
  MAC: 'mac',
  IgnoreUnknown: undefined,
};

const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export function parseCniArgs(text: string | undefined): CniArgs {
  const out: CniArgs = {};
  if (!text) return out;
  const pairs = text.split(';').filter(Boolean).map((kv) => {
    const i = kv.indexOf('=');
    if (i <= 0) throw new CniError(CniCode.invalidEnv, `CNI_ARGS: "${kv}" is not KEY=VALUE`);
    return [kv.slice(0, i), kv.slice(i + 1)] as const;
  });
  const ignoreUnknown = pairs.some(([k, v]) => k === 'IgnoreUnknown' && /^(1|true)$/i.test(v));
  for (const [k, v] of pairs) {
    if (!(k in KNOWN)) {
      if (ignoreUnknown) continue;
      throw new CniError(CniCode.invalidEnv, `CNI_ARGS: unknown argument ${k}`, 'set IgnoreUnknown=1 to ignore it');
    }
    const field = KNOWN[k];
    if (field && v) out[field] = v;
  }
  return out;
}

/** Linux interface names (as the reference plugins' skel checks CNI_IFNAME). */
export function validIfname(name: string): boolean {
  return name.length > 0 && name.length <= 15 && name !== '.' && name !== '..' && !/[/:\s]/.test(name);
}

export function parseEnv(env: NodeJS.ProcessEnv): CniEnv {
  const command = env.CNI_COMMAND;
  if (!command) throw new CniError(CniCode.invalidEnv, 'CNI_COMMAND is not set');
  if (!(COMMANDS as readonly string[]).includes(command)) throw new CniError(CniCode.invalidEnv, `unknown CNI_COMMAND ${command}`);
  const cmd = command as CniCommand;
  const attachment = cmd === 'ADD' || cmd === 'DEL' || cmd === 'CHECK';
  const containerId = env.CNI_CONTAINERID ?? '';
  const ifname = env.CNI_IFNAME ?? '';
  const netns = env.CNI_NETNS ?? '';
  if (attachment) {
    if (!containerId) throw new CniError(CniCode.invalidEnv, 'CNI_CONTAINERID is not set');
    if (!CONTAINER_ID.test(containerId)) throw new CniError(CniCode.invalidEnv, `CNI_CONTAINERID ${JSON.stringify(containerId)} is not alphanumeric with _ . -`);
    if (!ifname) throw new CniError(CniCode.invalidEnv, 'CNI_IFNAME is not set');
    if (!validIfname(ifname)) throw new CniError(CniCode.invalidEnv, `CNI_IFNAME ${JSON.stringify(ifname)} is not a valid interface name`);
    if (cmd !== 'DEL' && !netns) throw new CniError(CniCode.invalidEnv, 'CNI_NETNS is not set');
  }
  return {
    command: cmd,
    containerId,
    netns,
    ifname,
    path: (env.CNI_PATH ?? '').split(':').filter(Boolean),
    args: attachment ? parseCniArgs(env.CNI_ARGS) : {},
  };
}
