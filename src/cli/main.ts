/** The `vxmesh` command. Exit codes: 0 ok, 1 failure, 2 usage error. */
import { UsageError, VxmeshError } from '../errors.js';
import { AGENT_USAGE, agentCommand } from './agent.js';
import { INSPECT_USAGE, inspectCommand } from './inspect.js';
import { CONTROLLER_USAGE, controllerCommand } from './controller.js';
import { MONITOR_USAGE, monitorCommand } from './monitor.js';
import { labCommand } from './lab.js';
import { LAB_USAGE } from './lab-help.js';

export const USAGE = `Usage: vxmesh COMMAND [options]

vxmesh gives Harvester VMs VxLAN overlay networks: a TypeScript control plane and an eBPF (or kernel
vxlan) dataplane. Commands:

  agent       run a node's agent (reconcile loop driven by a file or the Kubernetes API)
  controller  run the cluster-wide controller (IPAM, NADs, conditions) against the Kubernetes API
  inspect     print what this node's dataplane holds
  monitor     live verdict events of this node's BPF programs: drops with their reasons
  lab         run a multi-node lab in network namespaces (up, apply, migrate, restart, exec, status, down)

Run \`vxmesh COMMAND --help\` for a command's options.`;

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<number>; usage: string }> = {
  agent: { run: agentCommand, usage: AGENT_USAGE },
  controller: { run: controllerCommand, usage: CONTROLLER_USAGE },
  inspect: { run: inspectCommand, usage: INSPECT_USAGE },
  monitor: { run: monitorCommand, usage: MONITOR_USAGE },
  lab: { run: labCommand, usage: LAB_USAGE },
};

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(USAGE);
    return cmd ? 0 : 2;
  }
  const c = COMMANDS[cmd];
  if (!c) {
    console.error(`vxmesh: unknown command ${cmd}\n\n${USAGE}`);
    return 2;
  }
  try {
    return await c.run(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`vxmesh ${cmd}: ${err.message}`);
      return 2;
    }
    const msg = err instanceof VxmeshError ? err.message : (err as Error).stack ?? String(err);
    console.error(`vxmesh ${cmd}: ${msg}`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // Do not wait for idle handles (watchers, timers) once a command is done.
    setTimeout(() => process.exit(code), 50).unref();
  },
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
