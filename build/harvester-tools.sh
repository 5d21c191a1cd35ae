#!/usr/bin/env bash
# Builds harvester-nad (build/harvester-nad/main.go): a small tool that runs Harvester's own NAD
# webhooks and NAD labelling code from the github.com/harvester/harvester-network-controller module.
# Cached outside the repo by module version and by the tool's source hash; rebuilt only when missing.
#   bash build/harvester-tools.sh            build what is missing, print nothing else
#   bash build/harvester-tools.sh --print    also print NAME=PATH lines
# Override the cache with VXMESH_TOOLS_DIR (default /var/cache/vxmesh/tools), the version with
# VXMESH_HARVESTER_NC_VERSION.
set -euo pipefail

MODULE=github.com/harvester/harvester-network-controller
VERSION=${VXMESH_HARVESTER_NC_VERSION:-v1.8.1}
# The module proxy serves v1.8.1, but the checksum database has no entry for it (lookups answer 404
# here), so its hashes are pinned: they are the module zip's, whose files were compared with the
# upstream git tag v1.8.1 (commit d1d2b4b76a27911ed92dbaca73be81d8d4bb8eeb) and found identical.
declare -A PINNED=(
  [v1.8.1]="h1:tH41q82zyAZLet5V1weGeMDN6ooqh4m1EeDYNG++/H4="
  [v1.8.1/go.mod]="h1:+iTaQObYLmIRL/xhULhISOf6rXWY9DF3bGKqHYnF/bo="
)
TOOLS_DIR=${VXMESH_TOOLS_DIR:-/var/cache/vxmesh/tools}
SRC=$(cd "$(dirname "$0")" && pwd)/harvester-nad/main.go

say() { printf '[harvester-tools] %s\n' "$*" >&2; }
die() { printf '[harvester-tools] error: %s\n' "$*" >&2; exit 1; }
command -v go >/dev/null || die "go is not installed (Go 1.26 is needed to build Harvester's network controller code)"
[ -f "$SRC" ] || die "missing $SRC"

export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local
HASH=$(sha256sum "$SRC" | cut -c1-12)
DIR=$TOOLS_DIR/harvester-nad-$VERSION-$HASH
BIN=$DIR/harvester-nad

build() {
  [ -x "$BIN" ] && return 0
  say "building harvester-nad against $MODULE@$VERSION (first time only: a few minutes on 2 cores)"
  local t0=$SECONDS src=$DIR/src out gomod gosum
  rm -rf "$src" && mkdir -p "$src"
  cd "$src"
  go mod init vxmesh.local/harvester-nad >/dev/null 2>&1
  # Pinned hashes stand in for the checksum database; an unpinned version is checked by it as usual.
  if [ -n "${PINNED[$VERSION]:-}" ]; then
    printf '%s %s %s\n%s %s/go.mod %s\n' "$MODULE" "$VERSION" "${PINNED[$VERSION]}" "$MODULE" "$VERSION" "${PINNED[$VERSION/go.mod]}" >go.sum
    export GONOSUMDB=$MODULE
  fi
  if ! out=$(go mod download -json "$MODULE@$VERSION" 2>&1); then
    die "the Go module proxy did not serve $MODULE@$VERSION: $(printf '%s' "$out" | grep -m1 -E '"Error"|error|not found' || printf '%s' "$out" | tail -1)"
  fi
  gomod=$(printf '%s' "$out" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  gosum=$(printf '%s' "$out" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')/go.sum
  [ -f "$gomod" ] || die "no go.mod for $MODULE@$VERSION in the module cache"
  # Harvester's replace directives pin its dependency graph; they only apply in the main module.
  {
    echo "require $MODULE $VERSION"
    awk '/^replace \(/{f=1} f{print} f&&/^\)/{f=0} /^replace [^(]/{print}' "$gomod"
  } >>go.mod
  # Its go.sum holds the hashes of those dependencies (fewer checksum-database lookups, same pins).
  [ -f "$gosum" ] && cat "$gosum" >>go.sum
  cp "$SRC" main.go
  go mod tidy >/dev/null 2>tidy.log || die "go mod tidy for harvester-nad failed: $(grep -m3 -E 'module|error' tidy.log | tr '\n' ' ')"
  go build -trimpath -o "$BIN.tmp" -ldflags "-s -w" .
  mv "$BIN.tmp" "$BIN"
  say "built harvester-nad ($MODULE@$VERSION) in $((SECONDS - t0)) s"
}

mkdir -p "$TOOLS_DIR"
exec 9>"$TOOLS_DIR/.lock"
flock 9
(build)
if [ "${1:-}" = --print ]; then
  echo "HARVESTER_NAD=$BIN"
  echo "HARVESTER_NC_VERSION=$VERSION"
fi
