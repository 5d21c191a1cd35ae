/**
 * deploy/chart is the one source of vxmesh's manifests. This module renders it with the real helm
 * (built by build/kube-tools.sh) and turns the default rendering into deploy/'s kustomize files: one file per
 * chart template, named like the template (`# Source: vxmesh/templates/<file>`). build/gen-deploy.mjs writes
 * them, a test fails when they drift.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { kubeTools } from '../controlplane/tools.js';

export const CHART_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../deploy/chart');
/** The namespace deploy/namespace.yaml creates and the kustomization installs into. */
export const DEFAULT_NAMESPACE = 'vxmesh-system';
/** `helm template` has no cluster to ask: the chart's kubeVersion constraint is checked against this. */
export const KUBE_VERSION_FOR_TEMPLATE = '1.34.4';

export class HelmError extends Error {
  override readonly name = 'HelmError';
}

export interface HelmResult { status: number; stdout: string; stderr: string }

/** Runs the pinned helm (stderr kept; its symlink notices about crds/ are harmless). */
export function helm(args: string[], input?: string): HelmResult {
  const bin = kubeTools().helm;
  if (!bin) throw new HelmError('build/kube-tools.sh printed no HELM= (an older script?)');
  const r = spawnSync(bin, args, { encoding: 'utf8', input, maxBuffer: 64 << 20 });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export interface TemplateOptions {
  /** The chart's directory (default CHART_DIR: this checkout's deploy/chart). */
  chart?: string;
  namespace?: string;
  /** A values file's content (YAML, given to helm as `-f -`). */
  values?: string;
  /** --set key=value pairs. */
  set?: string[];
  /** --include-crds (crds/ in the output). */
  includeCrds?: boolean;
}

/** `helm template vxmesh deploy/chart …`: the rendered multi-document YAML; a failure throws with helm's error. */
export function helmTemplate(o: TemplateOptions = {}): string {
  const args = ['template', 'vxmesh', o.chart ?? CHART_DIR, '--namespace', o.namespace ?? DEFAULT_NAMESPACE, '--kube-version', KUBE_VERSION_FOR_TEMPLATE];
  if (o.includeCrds) args.push('--include-crds');
  for (const s of o.set ?? []) args.push('--set', s);
  if (o.values !== undefined) args.push('-f', '-');
  const r = helm(args, o.values);
  if (r.status !== 0) throw new HelmError(`helm template failed: ${r.stderr.split('\n').filter((l) => !l.includes('found symbolic link')).join(' ').trim()}`);
  return r.stdout;
}

export const GENERATED_HEADER = '# Generated from deploy/chart (default values) by `node build/gen-deploy.mjs`: edit the chart, not this file.\n';

/** Pure: helm's output split by template file, in helm's order, each document as helm printed it (comments kept). */
export function splitBySource(rendered: string): Map<string, string> {
  const files = new Map<string, string[]>();
  for (const doc of rendered.split(/^---\s*$/m)) {
    const m = /^# Source: [^/]+\/templates\/(.+)$/m.exec(doc);
    if (!m) continue;
    const body = doc.slice(doc.indexOf('\n', m.index) + 1).trim();
    if (!body) continue;
    const file = path.basename(m[1]!);
    files.set(file, [...(files.get(file) ?? []), body]);
  }
  return new Map([...files].map(([f, docs]) => [f, GENERATED_HEADER + docs.join('\n---\n') + '\n']));
}

/** deploy/'s kustomize files as the chart renders them with its default values. */
export function renderDeployFiles(): Map<string, string> {
  return splitBySource(helmTemplate());
}
