/**
 * Runs one bpf reconcile the way the agent does: the process itself lives in the node netns
 * (nsenter --net=…), no `netns` option, so libbpf's TC calls and every command act on the current one.
 * Usage: vite-node bpf-agent-reconcile.ts <intent.json> <bpffs> <node>; prints the ReconcileReport.
 */
import fs from 'node:fs';
import { pino } from 'pino';
import { createBpfDataplane } from '../../src/dataplane/bpf/index.js';

const [intentFile, bpffs, node] = process.argv.slice(2);
const dp = createBpfDataplane({ node: node!, bpffs, log: pino({ level: 'silent' }) });
const report = await dp.reconcile(JSON.parse(fs.readFileSync(intentFile!, 'utf8')));
process.stdout.write(JSON.stringify(report) + '\n');
