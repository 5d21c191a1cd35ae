import { pino, destination, type Logger } from 'pino';

/**
 * One root logger, JSON to stderr (stdout stays free for command output).
 * Components take a child: `log.child({ component: 'dataplane.kernel' })`.
 * Messages are constant; details go into stable fields (node, network, vni, vm, iface, map, op, durationMs, err).
 */
export const rootLogger: Logger = pino(
  { level: process.env.VXMESH_LOG_LEVEL ?? 'info', base: { pid: process.pid } },
  destination(2),
);

export function componentLogger(component: string, fields: Record<string, unknown> = {}): Logger {
  return rootLogger.child({ component, ...fields });
}

export type { Logger };
