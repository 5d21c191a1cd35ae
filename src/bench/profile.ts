/**
 * Host profiles, applied inside node namespaces only (never the root namespace):
 *   clean — bridged frames skip iptables (bridge-nf-call-* = 0, set explicitly: once br_netfilter is loaded,
 *           new namespaces default to 1);
 *   k8s   — a Kubernetes-like node: bridge-nf-call-iptables = 1 and `rules` non-matching iptables rules in
 *           FORWARD (a chain VXMBENCH jumped to from FORWARD, as kube-proxy/CNI chains are).
 * The underlay switch namespace stays clean in both profiles (it plays the physical switch).
 */
import { run } from '../util/exec.js';

export type Profile = 'clean' | 'k8s';
export const CHAIN = 'VXMBENCH';

const BRIDGE_SYSCTLS = ['net.bridge.bridge-nf-call-iptables', 'net.bridge.bridge-nf-call-ip6tables', 'net.bridge.bridge-nf-call-arptables'];

/** iptables-restore input: the chain, `rules` rules that never match the bench's traffic, the jump. */
export function k8sRuleset(rules: number): string {
  const lines = ['*filter', `:${CHAIN} - [0:0]`];
  for (let i = 0; i < rules; i++) {
    const a = (i >> 8) & 255;
    const b = i & 255;
    lines.push(`-A ${CHAIN} -s 10.254.${a}.${b}/32 -d 10.253.${a}.${b}/32 -p tcp -m tcp --dport ${30000 + (i % 2000)} -m comment --comment "svc-${i}" -j ACCEPT`);
  }
  lines.push(`-A FORWARD -j ${CHAIN}`, 'COMMIT', '');
  return lines.join('\n');
}

async function setBridgeSysctls(netns: string, value: 0 | 1): Promise<void> {
  const argv = ['sysctl', '-qw', ...BRIDGE_SYSCTLS.map((k, i) => `${k}=${i === 0 ? value : 0}`)];
  await run(argv, { netns });
}

async function removeRules(netns: string): Promise<void> {
  await run(['iptables', '-D', 'FORWARD', '-j', CHAIN], { netns, allowFailure: true });
  await run(['iptables', '-F', CHAIN], { netns, allowFailure: true });
  await run(['iptables', '-X', CHAIN], { netns, allowFailure: true });
}

/** Puts node namespaces into `profile` (idempotent; switching profiles replaces the rules). */
export async function applyProfile(nodeNamespaces: string[], profile: Profile, rules: number): Promise<void> {
  const ruleset = profile === 'k8s' ? k8sRuleset(rules) : '';
  for (const ns of nodeNamespaces) {
    await removeRules(ns);
    await setBridgeSysctls(ns, profile === 'k8s' ? 1 : 0);
    if (profile === 'k8s') await run(['iptables-restore', '--noflush'], { netns: ns, input: ruleset });
  }
}

/** The switch namespace: always clean. */
export async function cleanSwitch(netns: string): Promise<void> {
  await setBridgeSysctls(netns, 0);
}

/** Number of rules in VXMBENCH (to check a profile is in place). */
export async function ruleCount(netns: string): Promise<number> {
  const r = await run(['iptables', '-S', CHAIN], { netns, allowFailure: true });
  return r.exitCode === 0 ? r.stdout.split('\n').filter((l) => l.startsWith(`-A ${CHAIN}`)).length : 0;
}
