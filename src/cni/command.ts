/**
 * One invocation of vxmesh's CNI plugin: the CNI environment and stdin in, what to print on stdout and
 * the exit code out (the result for ADD and VERSION, an error object on failure).
 */
import { configVersion, parseNetConf } from './config.js';
import { parseEnv } from './env.js';
import { add, check, del, gc, status, validAttachments, versionInfo } from './plugin.js';
import { CniCode, CniError, compareVersions, errorJson, isSupportedVersion, LATEST_VERSION } from './spec.js';

/** Runs one invocation; returns what to print and the exit code. */
export async function runCommand(env: NodeJS.ProcessEnv, stdin: string): Promise<{ stdout: string; code: number }> {
  try {
    const e = parseEnv(env);
    if (e.command === 'VERSION') return { stdout: JSON.stringify(versionInfo()), code: 0 };
    const conf = parseNetConf(stdin);
    const needs11 = (what: string) => {
      if (compareVersions(conf.cniVersion, '1.1.0') < 0) throw new CniError(CniCode.incompatibleVersion, `${what} needs cniVersion 1.1.0 or later (got ${conf.cniVersion})`);
    };
    switch (e.command) {
      case 'ADD':
        return { stdout: JSON.stringify(await add(conf, e)), code: 0 };
      case 'DEL':
        await del(conf, e);
        return { stdout: '', code: 0 };
      case 'CHECK':
        await check(conf, e);
        return { stdout: '', code: 0 };
      case 'STATUS':
        needs11('STATUS');
        await status(conf);
        return { stdout: '', code: 0 };
      case 'GC':
        needs11('GC');
        await gc(conf, validAttachments(JSON.parse(stdin)));
        return { stdout: '', code: 0 };
    }
  } catch (err) {
    const v = configVersion(stdin);
    return { stdout: JSON.stringify(errorJson(err, v && isSupportedVersion(v) ? v : LATEST_VERSION)), code: 1 };
  }
}
