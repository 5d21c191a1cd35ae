/**
 * Entry point of the `vxmesh-cni` executable (bin/vxmesh-cni): the runtime (Multus) runs it with the
 * CNI environment and the network configuration on stdin (command.ts does the rest).
 */
import { readFileSync } from 'node:fs';
import { runCommand } from './command.js';

function readStdin(): string {
  try {
    return readFileSync(0, 'utf8');
  } catch {
    return '';
  }
}

const out = await runCommand(process.env, readStdin());
if (out.stdout) process.stdout.write(`${out.stdout}\n`);
process.exitCode = out.code;
