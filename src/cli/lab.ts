/** `vxmesh lab …`: a multi-node lab in network namespaces, each node running a real agent. */
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import type { ModeRequest } from '../dataplane/dataplane.js';
import { sourceArgs } from '../lab/agents.js';
import { convergeLab, createLab, currentAllocations, type LabSource } from '../lab/converge.js';
import { labDown } from '../lab/down.js';
import { labNameOf, lastGoodOf, readLabInput, type LabInput } from '../lab/input.js';
import { formatMatrix, mismatches, runMatrix } from '../lab/matrix.js';
import { execTarget, migrateVm, restartAgent, restartController } from '../lab/ops.js';
import { labPaths, listLabs, readLabState, resolveLab, writeLabState, type LabState } from '../lab/state.js';
import { restartLabApi, reviveKube } from '../lab/kube.js';
import { formatStatus, labStatus } from '../lab/status.js';
import { need, noExtra, oneOf, parse, str, type Parsed } from './args.js';
import { LAB_HELP, LAB_USAGE } from './lab-help.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MODES = ['auto', 'bpf', 'kernel'] as const;
const SOURCES = ['file', 'kubernetes'] as const;

export async function labCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
    console.log(LAB_USAGE);
    return sub ? 0 : 2;
  }
  const usage = LAB_HELP[sub];
  if (!usage) throw new UsageError(`unknown lab command: ${sub}\n\n${LAB_USAGE}`);
  if (rest.includes('--help') || rest.includes('-h')) {
    if (sub !== 'exec' || rest.indexOf('--') < 0 || rest.indexOf('--help') < rest.indexOf('--')) {
      console.log(usage);
      return 0;
    }
  }
  switch (sub) {
    case 'up': return up(rest, usage);
    case 'apply': return apply(rest, usage);
    case 'migrate': return migrate(rest, usage);
    case 'restart': return restart(rest, usage);
    case 'exec': return exec(rest, usage);
    case 'status': return status(rest, usage);
    case 'down': return down(rest, usage);
    case 'inspect': return inspect(rest, usage);
    case 'monitor': return monitor(rest, usage);
    default: throw new UsageError(`unknown lab command: ${sub}`);
  }
}

function printErrors(errors: Array<{ message: string }>): void {
  for (const e of errors) console.error(`error: ${e.message}`);
  console.error(`\n${errors.length} error(s); nothing was changed.`);
}

/** Reads and validates a lab file; for a running lab, keeps its allocations and VM placement. */
async function readInput(file: string): Promise<{ input?: LabInput; running?: LabState; revived?: string[]; errors: Array<{ message: string }> }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { errors: [{ message: `${file}: cannot read: ${(err as Error).message}` }] };
  }
  const first = readLabInput(text, file);
  // Even an invalid file is read again against a running lab's objects, so that a conflict names the edit.
  const name = first.input?.lab.metadata.name ?? labNameOf(text, file);
  if (!name) return { errors: first.errors };
  const running = await readLabState(name).catch(() => undefined);
  if (!running) return first;
  // The allocations are read from the lab's API server: what of it has stopped is started again first.
  const revived = running.kube ? await reviveKube(running) : [];
  if (revived.length) await writeLabState(running);
  const placement = new Map(running.vms.map((v) => [`${v.namespace}/${v.name}`, v.node]));
  const current = await readFile(labPaths(running.lab).cluster, 'utf8').catch(() => ''); // none with --source kubernetes
  const again = readLabInput(text, file, { allocations: await currentAllocations(running), placement, lastGood: lastGoodOf(current) });
  if (again.input) {
    const want = again.input.lab.spec.nodes.map((n) => n.name).join(',');
    const have = running.nodes.map((n) => n.name).join(',');
    if (want !== have) return { errors: [{ message: `Lab ${running.lab}: spec.nodes changed (${have} -> ${want}); run \`vxmesh lab down --lab ${running.lab}\` first` }] };
  }
  return { ...again, running, ...(revived.length ? { revived } : {}) };
}

async function up(argv: string[], usage: string): Promise<number> {
  const p = parse(argv, { file: { type: 'string', short: 'f' }, mode: { type: 'string' }, source: { type: 'string' } }, usage);
  noExtra(p, 0, usage);
  const file = need(p, 'file', usage);
  const mode = oneOf(str(p, 'mode'), MODES, 'mode');
  const source: LabSource | undefined = oneOf(str(p, 'source'), SOURCES, 'source');
  const r = await readInput(file);
  if (!r.input) {
    printErrors(r.errors);
    return 1;
  }
  const lab = r.input.lab.metadata.name;
  if (r.running && source && source !== sourceOf(r.running)) {
    console.error(`error: lab ${lab} runs with the ${sourceOf(r.running)} source; to switch to ${source}, run \`vxmesh lab down --lab ${lab}\` first`);
    return 1;
  }
  let s: LabState;
  try {
    if (r.running) {
      console.log(`Lab ${lab} is already running: converging it to ${file}.`);
      await convergeLab(r.running, r.input, mode);
      s = r.running;
    } else {
      const m: ModeRequest = mode ?? r.input.lab.spec.mode;
      const src = source ?? 'file';
      console.log(`Bringing up lab ${lab}: ${r.input.lab.spec.nodes.length} nodes, ${r.input.vms.length} VMs, mode ${m}, source ${src} …`);
      s = await createLab(r.input, m, REPO, src, (line) => console.log(line));
    }
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    await printLogTails(lab);
    console.error(`\nThe lab is left as it is for inspection; remove it with: npx vxmesh lab down --lab ${lab}`);
    return 1;
  }
  console.log(formatStatus(await labStatus(s)));
  console.log('Connectivity (TCP echo on port 7 answers the VM name; external answers the source address it saw):\n');
  const probes = await runMatrix(s);
  console.log(formatMatrix(s, probes));
  const bad = mismatches(probes);
  console.log(bad.length ? `\n${bad.length} of ${probes.length} probes did not match the expectation (marked ✗).` : `\nAll ${probes.length} probes match the expectation.`);
  const vm = s.vms[0];
  const peer = s.vms.find((v) => v !== vm && v.interfaces[0]?.network === vm?.interfaces[0]?.network);
  console.log(`
Explore:
  npx vxmesh lab exec ${vm?.name ?? 'VM'} -- ping -c 3 ${peer?.interfaces[0]?.ip ?? 'IP'}
  npx vxmesh lab exec ${vm?.name ?? 'VM'} -- socat - TCP:${s.external?.ip ?? '198.18.0.254'}:8080
  npx vxmesh lab status            (add --json, or --matrix to re-run the probes)
  npx vxmesh lab migrate ${vm?.name ?? 'VM'} --to ${s.nodes.find((n) => n.name !== vm?.node)?.name ?? 'NODE'}
  npx vxmesh lab inspect ${s.nodes[0]?.name}${s.kube ? `
  KUBECONFIG=${labPaths(s.lab).kubeconfig} kubectl get vxn,vxip,vmi -A` : ''}
  npx vxmesh lab down`);
  return bad.length ? 1 : 0;
}

const sourceOf = (s: LabState): LabSource => (s.kube ? 'kubernetes' : 'file');

async function printLogTails(lab: string): Promise<void> {
  const s = await readLabState(lab);
  const p = labPaths(lab);
  const kube = s?.kube ? [path.join(p.controlPlane, 'logs', 'etcd.log'), path.join(p.controlPlane, 'logs', 'apiserver.log'), ...['apirelay-host', 'apirelay', 'controller'].map((x) => path.join(p.logs, `${x}.log`))] : [];
  const files = [...(s?.nodes ?? []).map((n) => p.log(n.name)), ...kube];
  for (const f of files) {
    const text = await readFile(f, 'utf8').catch(() => '');
    const tail = text.trim().split('\n').slice(-5).join('\n');
    if (tail) console.error(`\n--- ${f} (last lines) ---\n${tail}`);
  }
}

async function apply(argv: string[], usage: string): Promise<number> {
  const p = parse(argv, { file: { type: 'string', short: 'f' } }, usage);
  noExtra(p, 0, usage);
  const file = need(p, 'file', usage);
  const r = await readInput(file);
  if (!r.input) {
    printErrors(r.errors);
    return 1;
  }
  if (!r.running) {
    console.error(`error: lab ${r.input.lab.metadata.name} is not running; start it with: npx vxmesh lab up -f ${file}`);
    return 1;
  }
  const rep = await convergeLab(r.running, r.input);
  const revived = [...(r.revived ?? []), ...(rep.revived ?? [])];
  if (revived.length) console.log(`Restarted lab processes that had stopped: ${revived.join(', ')}.`);
  console.log(`Applied ${file} to lab ${r.running.lab}: ${rep.created.length} VM(s) created${rep.created.length ? ` (${rep.created.join(', ')})` : ''}, ${rep.deleted.length} deleted${rep.deleted.length ? ` (${rep.deleted.join(', ')})` : ''}; all agents converged.`);
  return 0;
}

const labOpt = { lab: { type: 'string' as const } };

async function migrate(argv: string[], usage: string): Promise<number> {
  const p = parse(argv, { ...labOpt, to: { type: 'string' } }, usage);
  noExtra(p, 1, usage);
  const vm = p.positionals[0];
  if (!vm) throw new UsageError(`missing VM name\n\n${usage}`);
  const to = need(p, 'to', usage);
  const s = await resolveLab(str(p, 'lab'));
  const r = await migrateVm(s, vm, to);
  console.log(r.from === r.to ? `${vm} already runs on ${to}.` : `Migrated ${vm}: ${r.from} -> ${r.to}; every agent converged ${r.convergedMs} ms after the switchover (the target pod was plugged before it).`);
  if (r.notRenewed) console.error(`warning: DHCP renewal not answered for ${r.notRenewed.join(', ')}`);
  return 0;
}

async function restart(argv: string[], usage: string): Promise<number> {
  const p = parse(argv, { ...labOpt, 'down-ms': { type: 'string' } }, usage);
  noExtra(p, 1, usage);
  const node = p.positionals[0];
  if (!node) throw new UsageError(`missing node name\n\n${usage}`);
  const s = await resolveLab(str(p, 'lab'));
  const isNode = s.nodes.some((n) => n.name === node);
  if (node === 'apiserver' && !isNode) {
    const downMs = Number(str(p, 'down-ms') ?? '0');
    if (!Number.isInteger(downMs) || downMs < 0) throw new UsageError(`--down-ms must be a number of milliseconds (got ${str(p, 'down-ms')})`);
    const r = await restartLabApi(s, downMs);
    await writeLabState(s);
    const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
    console.log(`Restarted kube-apiserver (pid ${r.pid}) on the same etcd, its objects kept: stopping took ${sec(r.stopMs)}, ${downMs} ms down, serving every resource again ${sec(r.startMs)} after the start.`);
    return 0;
  }
  if (node === 'controller' && !isNode) {
    const pid = await restartController(s);
    console.log(`Restarted the controller (pid ${pid}); addresses stay as allocated.`);
    return 0;
  }
  const pid = await restartAgent(s, node);
  console.log(`Restarted the agent of ${node} (pid ${pid}); it is ready.`);
  return 0;
}

async function exec(argv: string[], usage: string): Promise<number> {
  const sep = argv.indexOf('--');
  const head = sep >= 0 ? argv.slice(0, sep) : argv.slice(0, 1);
  const cmd = sep >= 0 ? argv.slice(sep + 1) : argv.slice(1);
  const p = parse(head, labOpt, usage);
  noExtra(p, 1, usage);
  const name = p.positionals[0];
  if (!name || cmd.length === 0) throw new UsageError(`usage: vxmesh lab exec NAME -- CMD…\n\n${usage}`);
  const s = await resolveLab(str(p, 'lab'));
  const ns = execTarget(s, name);
  // Interactive: the command inherits this terminal, so it cannot go through util/exec's captured run().
  const r = spawnSync('ip', ['netns', 'exec', ns, ...cmd], { stdio: 'inherit' });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

async function status(argv: string[], usage: string): Promise<number> {
  const p = parse(argv, { ...labOpt, json: { type: 'boolean' }, matrix: { type: 'boolean' } }, usage);
  noExtra(p, 0, usage);
  const s = await resolveLab(str(p, 'lab'));
  const j = await labStatus(s);
  if (p.values.json) console.log(JSON.stringify(j, null, 2));
  else console.log(formatStatus(j));
  if (p.values.matrix) {
    const probes = await runMatrix(s);
    console.log(formatMatrix(s, probes));
    return mismatches(probes).length ? 1 : 0;
  }
  return 0;
}

async function down(argv: string[], usage: string): Promise<number> {
  const p = parse(argv, { ...labOpt, file: { type: 'string', short: 'f' }, all: { type: 'boolean' } }, usage);
  noExtra(p, 0, usage);
  let labs: string[] = [];
  const nodes: string[] = [];
  if (p.values.all) labs = await listLabs();
  else if (str(p, 'lab')) labs = [str(p, 'lab')!];
  else if (str(p, 'file')) {
    const r = readLabInput(await readFile(str(p, 'file')!, 'utf8'), str(p, 'file')!);
    if (!r.input) {
      printErrors(r.errors);
      return 1;
    }
    labs = [r.input.lab.metadata.name];
    nodes.push(...r.input.lab.spec.nodes.map((n) => n.name));
  } else {
    labs = await listLabs();
    if (labs.length > 1) throw new UsageError(`several labs exist (${labs.join(', ')}): choose one with --lab NAME, or --all`);
  }
  if (!labs.length) {
    console.log('No lab is running; nothing to do.');
    return 0;
  }
  for (const lab of labs) {
    const removed = await labDown(lab, nodes);
    console.log(`Lab ${lab} is down (${removed.length} namespace(s) removed).`);
  }
  return 0;
}

async function inspect(argv: string[], usage: string): Promise<number> {
  const p = parse(argv, { ...labOpt, json: { type: 'boolean' } }, usage);
  noExtra(p, 1, usage);
  return inNode('inspect', p, usage, p.values.json ? ['--json'] : []);
}

/** `lab monitor NODE …`: vxmesh monitor inside the node, its options passed on. */
async function monitor(argv: string[], usage: string): Promise<number> {
  const p = parse(argv, {
    ...labOpt, drops: { type: 'boolean' }, all: { type: 'boolean' }, vni: { type: 'string' }, vm: { type: 'string' }, json: { type: 'boolean' },
    interval: { type: 'string' }, duration: { type: 'string' },
  }, usage);
  noExtra(p, 1, usage);
  const pass = Object.entries(p.values).filter(([k, v]) => k !== 'lab' && k !== 'help' && v !== undefined && v !== false)
    .flatMap(([k, v]) => (v === true ? [`--${k}`] : [`--${k}`, String(v)]));
  // Ctrl-C reaches the monitor too (same process group): it restores the trace flag and exits; this
  // process only waits for it instead of dying first.
  const ignore = () => {};
  process.on('SIGINT', ignore);
  try {
    return await inNode('monitor', p, usage, pass);
  } finally {
    process.off('SIGINT', ignore);
  }
}

/** Runs `vxmesh CMD` inside lab node p.positionals[0] (nsenter --net), with the node's bpffs and source. */
async function inNode(cmd: string, p: Parsed, usage: string, extra: string[]): Promise<number> {
  const node = p.positionals[0];
  if (!node) throw new UsageError(`missing node name\n\n${usage}`);
  const s = await resolveLab(str(p, 'lab'));
  const n = s.nodes.find((x) => x.name === node);
  if (!n) throw new UsageError(`lab ${s.lab} has no node ${node} (nodes: ${s.nodes.map((x) => x.name).join(', ')})`);
  const args = ['--net=/run/netns/' + n.netns, '--', process.execPath, path.join(REPO, 'dist/cli/main.js'), cmd, '--node', n.name, '--bpffs', n.bpffs, ...sourceArgs(s, n.name), ...extra];
  const r = spawnSync('nsenter', args, { stdio: 'inherit' });
  if (r.error) throw r.error;
  return r.status ?? 1;
}
