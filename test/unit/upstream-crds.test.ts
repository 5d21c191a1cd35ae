import { describe, expect, it } from 'vitest';
import { crdState, crdsOfYaml, unserved, UpstreamCrdError, type Crd, type CrdCondition } from '../../src/controlplane/upstream-crds.js';
import { parseToolLines } from '../../src/controlplane/tools.js';
import { RESOURCES } from '../../src/k8s/resources.js';

const crd = (group: string, plural: string, kind: string, scope: string, versions: [string, boolean][]): Crd => ({
  apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: `${plural}.${group}` },
  spec: { group, scope, names: { plural, kind }, versions: versions.map(([name, served], i) => ({ name, served, storage: i === 0 })) },
});
const nad = crd('k8s.cni.cncf.io', 'network-attachment-definitions', 'NetworkAttachmentDefinition', 'Namespaced', [['v1', true]]);

describe('crdsOfYaml', () => {
  it('keeps the CRD documents as they are sent (no status, no creationTimestamp) and skips other kinds', () => {
    const text = [
      '# source', '---', 'apiVersion: v1', 'kind: Namespace', 'metadata: { name: x }', '---',
      'apiVersion: apiextensions.k8s.io/v1', 'kind: CustomResourceDefinition',
      'metadata: { name: a.example.io, creationTimestamp: null, labels: { k: v } }',
      'spec: { group: example.io, scope: Cluster, names: { plural: a, kind: A }, versions: [] }',
      'status: { acceptedNames: { kind: "", plural: "" }, conditions: null, storedVersions: null }', '',
    ].join('\n');
    expect(crdsOfYaml(text, 't')).toEqual([{
      apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: 'a.example.io', labels: { k: 'v' } },
      spec: { group: 'example.io', scope: 'Cluster', names: { plural: 'a', kind: 'A' }, versions: [] },
    }]);
  });

  it('names the file of malformed YAML', () => {
    expect(() => crdsOfYaml('a: "x\n  b: [', '/cache/x.yaml')).toThrow(UpstreamCrdError);
    expect(() => crdsOfYaml('a: "x\n  b: [', '/cache/x.yaml')).toThrow(/^\/cache\/x\.yaml: /);
  });
});

describe('unserved', () => {
  it('is empty when the CRD serves the group, plural, kind, scope and version', () => {
    expect(unserved([nad], [RESOURCES.nads])).toEqual([]);
  });

  it('names what is missing or different', () => {
    expect(unserved([], [RESOURCES.nads])).toEqual(['network-attachment-definitions.k8s.cni.cncf.io/v1: no CRD']);
    expect(unserved([{ ...nad, spec: { ...nad.spec, scope: 'Cluster' } }], [RESOURCES.nads]))
      .toEqual(['network-attachment-definitions.k8s.cni.cncf.io/v1: the CRD is Cluster']);
    expect(unserved([{ ...nad, spec: { ...nad.spec, names: { plural: nad.spec.names.plural, kind: 'Nad' } } }], [RESOURCES.nads]))
      .toEqual(['network-attachment-definitions.k8s.cni.cncf.io/v1: the CRD\'s kind is Nad, not NetworkAttachmentDefinition']);
    const cn = crd('network.harvesterhci.io', 'clusternetworks', 'ClusterNetwork', 'Cluster', [['v1', true], ['v1beta1', false]]);
    expect(unserved([cn], [RESOURCES.clusterNetworks]))
      .toEqual(['clusternetworks.network.harvesterhci.io/v1beta1: version v1beta1 is not served (served: v1)']);
  });
});

describe('crdState', () => {
  const withConditions = (conditions: CrdCondition[]): Crd => ({ ...nad, status: { conditions } });

  it('is established only with Established=True', () => {
    expect(crdState(withConditions([{ type: 'NamesAccepted', status: 'True' }, { type: 'Established', status: 'True' }]))).toEqual({ established: true });
    expect(crdState(nad)).toEqual({ established: false, pending: 'no conditions yet' });
    expect(crdState(withConditions([{ type: 'NamesAccepted', status: 'True' }, { type: 'Established', status: 'False', message: 'installing' }])))
      .toEqual({ established: false, pending: 'NamesAccepted=True, Established=False (installing)' });
  });

  it('is refused when the names are not accepted (waiting cannot help)', () => {
    const s = crdState(withConditions([{ type: 'NamesAccepted', status: 'False', reason: 'MultipleNamesNotAllowed', message: '"a" is already in use' }]));
    expect(s).toMatchObject({ established: false, refused: 'names not accepted: "a" is already in use' });
  });
});

describe('parseToolLines', () => {
  const base = 'KUBE_APISERVER=/k\nKUBE_VERSION=v1\nETCD=/e\nETCD_VERSION=v3\n';
  it('reads UPSTREAM_CRDS when printed, and an older script\'s output without it', () => {
    expect(parseToolLines(`${base}UPSTREAM_CRDS=/c\n`).upstreamCrds).toBe('/c');
    expect(parseToolLines(base)).toEqual({ kubeApiserver: '/k', kubeVersion: 'v1', etcd: '/e', etcdVersion: 'v3' });
  });
  it('reads HELM and HELM_VERSION when printed (optional: absent from an older script\'s output)', () => {
    expect(parseToolLines(`${base}HELM=/h/helm\nHELM_VERSION=v3.19.5\n`)).toMatchObject({ helm: '/h/helm', helmVersion: 'v3.19.5' });
    expect(parseToolLines(base).helm).toBeUndefined();
  });
});
