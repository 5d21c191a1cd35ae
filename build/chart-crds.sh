#!/usr/bin/env bash
# The real upstream CRDs of the objects deploy/chart and deploy/harvester create besides vxmesh's own, from the
# upstream Go modules (the module cache keeps them by version; nothing is built):
#   ServiceMonitor, PrometheusRule  github.com/prometheus-operator/prometheus-operator  example/prometheus-operator-crd/
#   Addon (harvesterhci.io/v1beta1)  github.com/harvester/harvester                      deploy/charts/harvester-crd/templates/
#   bash build/chart-crds.sh --print   also print CHART_CRD=<file> lines, one per CRD
# prometheus-operator v0.85.0: the newest the module proxy here serves (v0.86.0 is not served, v0.86.1/.2 fail the
# checksum database lookup).
set -euo pipefail

PROMETHEUS_OPERATOR_VERSION=${VXMESH_PROMETHEUS_OPERATOR_VERSION:-v0.85.0}
HARVESTER_VERSION=${VXMESH_HARVESTER_VERSION:-v1.6.0}

HERE=$(cd "$(dirname "$0")" && pwd)
TAG=chart-crds
. "$HERE/go-modules.sh"

files=()
po=$(module_field "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" Dir)
for crd in servicemonitors prometheusrules; do files+=("$po/example/prometheus-operator-crd/monitoring.coreos.com_$crd.yaml"); done
hv=$(module_field "github.com/harvester/harvester@$HARVESTER_VERSION" Dir)
files+=("$hv/deploy/charts/harvester-crd/templates/harvesterhci.io_addons.yaml")
for f in "${files[@]}"; do
  [ -f "$f" ] || die "no $f in its module"
  if [ "${1:-}" = --print ]; then echo "CHART_CRD=$f"; fi
done
