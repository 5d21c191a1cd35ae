#!/usr/bin/env bash
# Builds vxmesh's CNI plugin (the Go module cni/, standard library only) as a static binary:
#   CGO_ENABLED=0 go build -trimpath, cached outside the repo by a hash of cni/'s sources and the Go
#   version ($VXMESH_TOOLS_DIR, default /var/cache/vxmesh/tools: vxmesh-cni-<hash>/vxmesh-cni), and copied
#   to build/out/cni/vxmesh-cni, the CNI_PATH directory of the lab and the tests (src/cni/plugin-binary.ts).
#   bash build/cni-plugin.sh           build when cni/ changed, print nothing else
#   bash build/cni-plugin.sh --print   also print the binary's path
set -euo pipefail
cd "$(dirname "$0")/.."

TAG=cni-plugin
say() { printf '[%s] %s\n' "$TAG" "$*" >&2; }
die() { printf '[%s] error: %s\n' "$TAG" "$*" >&2; exit 1; }
command -v go >/dev/null || die "go is not installed (Go 1.22 or later builds the CNI plugin from cni/)"
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=

TOOLS_DIR=${VXMESH_TOOLS_DIR:-/var/cache/vxmesh/tools}
OUT=build/out/cni/vxmesh-cni
# What the binary is made of: the module's non-test sources and the toolchain.
hash=$( { go version; find cni -type f \( -name '*.go' ! -name '*_test.go' -o -name go.mod -o -name go.sum \) -print0 | sort -z | xargs -0 sha256sum; } \
  | sha256sum | cut -c1-16)
dir=$TOOLS_DIR/vxmesh-cni-$hash
bin=$dir/vxmesh-cni

if [ ! -x "$bin" ]; then
  mkdir -p "$dir"
  exec 9>"$TOOLS_DIR/.vxmesh-cni.lock"
  flock 9
  if [ ! -x "$bin" ]; then
    say "building vxmesh-cni from cni/ ($hash)"
    t0=$(date +%s%N)
    (cd cni && go build -trimpath -buildvcs=false -ldflags '-s -w' -o "$bin.tmp.$$" ./cmd/vxmesh-cni) 2>"$dir/build.log" \
      || { rm -f "$bin.tmp.$$"; die "go build of cni/cmd/vxmesh-cni failed: $(head -c 2000 "$dir/build.log")"; }
    mv -f "$bin.tmp.$$" "$bin"
    say "built vxmesh-cni in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  fi
  exec 9>&-
fi

# The repo's copy, replaced atomically (a test may be executing the old one).
if ! cmp -s "$bin" "$OUT"; then
  mkdir -p "$(dirname "$OUT")"
  cp "$bin" "$OUT.tmp.$$"
  chmod 0755 "$OUT.tmp.$$"
  mv -f "$OUT.tmp.$$" "$OUT"
fi
if [ "${1:-}" = --print ]; then echo "$(pwd)/$OUT"; fi
