#!/usr/bin/env bash
# `npm test`: bootstrap, run the whole suite (unit, then netns integration serially), print "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash build/setup.sh || exit 1
# The real Kubernetes control plane the k8s tests run against (built once per machine, cached by version).
bash build/kube-tools.sh || exit 1
# Harvester's own NAD webhook code, run on the NADs vxmesh writes (test/cni/harvester-nad.test.ts).
bash build/harvester-tools.sh || exit 1
mkdir -p test-results
rm -f test-results/results.json
npx vitest run --reporter=default --reporter=json --outputFile.json=test-results/results.json "$@"
rc=$?
node build/summary.mjs test-results/results.json || rc=1
exit $rc
