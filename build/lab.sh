#!/usr/bin/env bash
# `npm run lab`: bootstrap, then bring up the demo lab (or pass arguments: npm run lab -- status).
set -euo pipefail
cd "$(dirname "$0")/.."
bash build/setup.sh
if [ $# -eq 0 ]; then set -- up -f examples/lab.yaml; fi
exec node dist/cli/main.js lab "$@"
