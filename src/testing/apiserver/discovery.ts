/**
 * API discovery, so that kubectl (which maps kinds to REST paths through it) works against the double:
 * /api, /apis, /api/v1, /apis/<group> and /apis/<group>/<version>, in the unaggregated v1 form every
 * client accepts. Answers undefined for any other path.
 */
import type { Reply } from './handlers.js';
import { apiVersionOf, type ResourceDef } from './resources.js';

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function resourceList(groupVersion: string, defs: ResourceDef[]): Reply {
  const resources = defs.flatMap((r) => [
    { name: r.plural, singularName: r.kind.toLowerCase(), namespaced: r.namespaced, kind: r.kind, verbs: VERBS, ...(r.shortNames ? { shortNames: r.shortNames } : {}) },
    ...(r.status ? [{ name: `${r.plural}/status`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: ['get', 'patch', 'update'] }] : []),
  ]);
  return { code: 200, body: { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources } };
}

function groupOf(name: string, defs: ResourceDef[]) {
  const versions = [...new Set(defs.filter((r) => r.group === name).map((r) => r.version))].map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions, preferredVersion: versions[0] };
}

export function discovery(pathname: string, resources: ResourceDef[]): Reply | undefined {
  const seg = pathname.split('/').filter(Boolean);
  if (seg[0] === 'api') {
    if (seg.length === 1) return { code: 200, body: { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] } };
    if (seg.length === 2) return resourceList(seg[1]!, resources.filter((r) => r.group === '' && r.version === seg[1]));
    return undefined;
  }
  if (seg[0] !== 'apis') return undefined;
  const groups = [...new Set(resources.filter((r) => r.group).map((r) => r.group))];
  if (seg.length === 1) return { code: 200, body: { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map((g) => groupOf(g, resources)) } };
  if (!groups.includes(seg[1]!)) return undefined;
  if (seg.length === 2) return { code: 200, body: { kind: 'APIGroup', apiVersion: 'v1', ...groupOf(seg[1]!, resources) } };
  if (seg.length === 3) {
    const defs = resources.filter((r) => r.group === seg[1] && r.version === seg[2]);
    return defs.length ? resourceList(apiVersionOf(defs[0]!), defs) : undefined;
  }
  return undefined;
}
