/** The CLI surface: help for every command, usage errors (exit 2), and `lab up` refusing bad input while creating nothing. */
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { run } from '../../src/util/exec.js';
import { exampleDocs, find, randomLabName, TestLab } from '../helpers/lab.js';

describe('vxmesh CLI', () => {
  const lab = new TestLab('kernel');

  it.each([
    [[], /Usage: vxmesh COMMAND/],
    [['agent'], /Usage: vxmesh agent --node NAME --source file:PATH\|kubernetes/],
    [['inspect'], /Usage: vxmesh inspect/],
    [['lab'], /Usage: vxmesh lab COMMAND/],
    [['lab', 'up'], /Usage: vxmesh lab up -f FILE/],
    [['lab', 'apply'], /Usage: vxmesh lab apply -f FILE/],
    [['lab', 'migrate'], /Usage: vxmesh lab migrate VM --to NODE/],
    [['lab', 'restart'], /Usage: vxmesh lab restart NODE/],
    [['lab', 'exec'], /Usage: vxmesh lab exec NAME/],
    [['lab', 'status'], /Usage: vxmesh lab status/],
    [['lab', 'inspect'], /Usage: vxmesh lab inspect NODE/],
    [['lab', 'down'], /Usage: vxmesh lab down/],
  ])('`vxmesh %j --help` says what the command does', async (args, usage) => {
    const r = await lab.cli([...args, '--help']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(usage);
  });

  it.each([
    [['lab', 'up', '--bogus']],
    [['agent', '--node', 'x', '--frobnicate']],
    [['lab', 'status', '--mode']],
    [['lab', 'nosuch']],
    [['nosuch']],
    [['agent', '--source', 'file:/tmp/x']],
    [['agent', '--node', 'n', '--source', 'file:/tmp/x', '--mode', 'fast']],
  ])('rejects %j with a usage message and exit 2', async (args) => {
    const r = await lab.cli(args);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/vxmesh|Usage/);
  });

  it('says clearly when the kubernetes source has no kubeconfig to read', async () => {
    const r = await lab.cli(['agent', '--node', 'n', '--source', 'kubernetes', '--kubeconfig', '/nonexistent/vxm-kubeconfig']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/^vxmesh agent: cannot load \/nonexistent\/vxm-kubeconfig: ENOENT/m);
  });

  it('lab up with an invalid file prints every error naming object and field, exits 1 and creates nothing', async () => {
    const name = randomLabName();
    const docs = exampleDocs(name, 'kernel');
    find(docs, 'VxlanNetwork', 'red').spec.vni = 0;
    find(docs, 'VirtualMachineInstance', 'vm-a2').status.nodeName = 'elsewhere';
    const r = await lab.cli(['lab', 'up', '-f', lab.writeFile(docs)]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/VxlanNetwork tenant-b\/red: spec\.vni not in 1\.\.16777215/);
    expect(r.stderr).toMatch(/VirtualMachineInstance tenant-a\/vm-a2: status\.nodeName "elsewhere" is not a node of Lab/);
    expect(existsSync(`/run/vxmesh/${name}`)).toBe(false);
    expect((await run(['ip', 'netns', 'list'])).stdout).not.toMatch(`vxm-${name}-`);
  });

  it('lab up without a Lab object says so', async () => {
    const docs = exampleDocs(randomLabName(), 'kernel').filter((d) => d.kind !== 'Lab');
    const r = await lab.cli(['lab', 'up', '-f', lab.writeFile(docs)]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/expected exactly one network\.vxmesh\.io\/v1alpha1 Lab object, found 0/);
  });

  it('lab down of a lab that does not exist succeeds and does nothing', async () => {
    const r = await lab.cli(['lab', 'down', '--lab', randomLabName()]);
    expect(r.exitCode).toBe(0);
  });
});
