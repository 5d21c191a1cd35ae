#!/usr/bin/env bash
# Builds the real Kubernetes control plane vxmesh is tested against, from the official Go modules:
#   kube-apiserver (k8s.io/kubernetes) and etcd (go.etcd.io/etcd/server/v3), and helm (helm.sh/helm/v3) for deploy/chart.
# Each binary is cached by version outside the repo and rebuilt only when missing.
#   bash build/kube-tools.sh            build what is missing, print nothing else
#   bash build/kube-tools.sh --print    also print NAME=PATH lines (what src/controlplane/tools.ts reads)
#   bash build/kube-tools.sh --missing  build nothing; print "NAME VERSION" of each binary not built yet
# It also ensures the upstream CRDs of the objects vxmesh reads (build/upstream-crds.sh: UPSTREAM_CRDS=<dir>).
# Override the cache with VXMESH_TOOLS_DIR (default /var/cache/vxmesh/tools).
set -euo pipefail

KUBE_VERSION=${VXMESH_KUBE_VERSION:-v1.34.4}     # k8s.io/kubernetes; its staging modules are v0.34.x
ETCD_VERSION=${VXMESH_ETCD_VERSION:-v3.6.16}     # go.etcd.io/etcd/server/v3 (Kubernetes 1.34 pairs with etcd 3.6)
HELM_VERSION=${VXMESH_HELM_VERSION:-v3.19.5}     # helm.sh/helm/v3 (lints and renders deploy/chart in the tests)
TOOLS_DIR=${VXMESH_TOOLS_DIR:-/var/cache/vxmesh/tools}

if [ "${1:-}" = --missing ]; then   # (src/controlplane/tools-cache.ts: "building … (first use)")
  [ -x "$TOOLS_DIR/kube-apiserver-$KUBE_VERSION/kube-apiserver" ] || echo "kube-apiserver $KUBE_VERSION"
  [ -x "$TOOLS_DIR/etcd-$ETCD_VERSION/etcd" ] || echo "etcd $ETCD_VERSION"
  [ -x "$TOOLS_DIR/helm-$HELM_VERSION/helm" ] || echo "helm $HELM_VERSION"
  exit 0
fi

HERE=$(cd "$(dirname "$0")" && pwd)
TAG=kube-tools
. "$HERE/go-modules.sh"

# Each binary: a throwaway tool module (go-modules.sh tool_start/tool_finish).
build_kube_apiserver() {
  tool_start kube-apiserver "$KUBE_VERSION" "kube-apiserver-$KUBE_VERSION" "first time only: several minutes on 2 cores" k8s.io/kubernetes || return 0
  local gomod staging minor=${KUBE_VERSION#v1.}
  gomod=$(module_field "k8s.io/kubernetes@$KUBE_VERSION" GoMod)
  [ -f "$gomod" ] || die "no go.mod for k8s.io/kubernetes@$KUBE_VERSION in the module cache"
  # Every staging module k8s.io/kubernetes replaces with ./staging/src/... is replaced by its published v0.<minor>.
  staging=$(sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\1#p' "$gomod" | sort -u)
  [ -n "$staging" ] || die "found no staging replaces in k8s.io/kubernetes@$KUBE_VERSION's go.mod"
  for m in $staging; do echo "replace $m => $m v0.$minor"; done >>go.mod
  tools_go k8s.io/kubernetes/cmd/kube-apiserver
  local pkg=k8s.io/component-base/version major=${KUBE_VERSION#v}
  major=${major%%.*}
  tool_finish k8s.io/kubernetes/cmd/kube-apiserver \
    "-X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=${minor%%.*} -X $pkg.gitTreeState=clean"
}

build_etcd() {
  tool_start etcd "$ETCD_VERSION" "etcd-$ETCD_VERSION" "first time only" go.etcd.io/etcd/server/v3 || return 0
  tools_go go.etcd.io/etcd/server/v3
  tool_finish go.etcd.io/etcd/server/v3
}

build_helm() {
  tool_start helm "$HELM_VERSION" "helm-$HELM_VERSION" "first time only: a few minutes on 2 cores" helm.sh/helm/v3 || return 0
  tools_go helm.sh/helm/v3/cmd/helm
  tool_finish helm.sh/helm/v3/cmd/helm \
    "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
}

mkdir -p "$TOOLS_DIR"
# One build at a time on a machine (npm test and lab up may both ask).
exec 9>"$TOOLS_DIR/.lock"
flock 9
(build_etcd)
(build_kube_apiserver)
(build_helm)
crds=$(bash "$HERE/upstream-crds.sh" --print)
if [ "${1:-}" = --print ]; then
  echo "KUBE_APISERVER=$TOOLS_DIR/kube-apiserver-$KUBE_VERSION/kube-apiserver"
  echo "KUBE_VERSION=$KUBE_VERSION"
  echo "ETCD=$TOOLS_DIR/etcd-$ETCD_VERSION/etcd"
  echo "ETCD_VERSION=$ETCD_VERSION"
  echo "HELM=$TOOLS_DIR/helm-$HELM_VERSION/helm"
  echo "HELM_VERSION=$HELM_VERSION"
  printf '%s\n' "$crds"
fi
