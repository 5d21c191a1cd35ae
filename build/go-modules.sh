# Sourced by the scripts that build tools from Go modules (kube-tools.sh, upstream-crds.sh).
# Set TAG (the log prefix) first. Defines say, die and download, and the environment of every build.
say() { printf '[%s] %s\n' "$TAG" "$*" >&2; }
die() { printf '[%s] error: %s\n' "$TAG" "$*" >&2; exit 1; }
command -v go >/dev/null || die "go is not installed (Go 1.26 is needed to build the test tools from Go modules)"

export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local
# Module downloads (go mod download -json): a failure names the module the proxy did not serve.
download() {
  local out
  if ! out=$(go mod download -json "$1" 2>&1); then
    die "the Go module proxy did not serve $1: $(printf '%s' "$out" | grep -m1 -E '"Error"|error|not found' || printf '%s' "$out" | tail -1)"
  fi
  printf '%s' "$out"
}

# One field ("Dir", "GoMod", …) of a downloaded module.
module_field() {
  local out v
  out=$(download "$1") || exit 1
  v=$(printf '%s' "$out" | sed -n "s/.*\"$2\": \"\(.*\)\".*/\1/p")
  [ -n "$v" ] || die "go mod download printed no $2 for $1"
  printf '%s' "$v"
}

# A throwaway tool module per binary: $TOOLS_DIR/<dir>/src holds its go.mod, the binary is $TOOLS_DIR/<dir>/<name>.
# tool_start NAME VERSION DIR WHY MODULE: returns 1 when the binary is built already; else enters a fresh module
# directory requiring MODULE@VERSION (the caller then writes its Go file and any extra go.mod lines).
tool_start() {
  TOOL_NAME=$1 TOOL_VERSION=$2 TOOL_DIR=$TOOLS_DIR/$3 TOOL_T0=$SECONDS
  [ -x "$TOOL_DIR/$1" ] && return 1
  say "building $1 $2 from $5 ($4)"
  { rm -rf "$TOOL_DIR/src" && mkdir -p "$TOOL_DIR/src" && cd "$TOOL_DIR/src"; } || die "cannot make $TOOL_DIR/src"
  go mod init "vxmesh.local/$1" >/dev/null 2>&1 || die "go mod init in $TOOL_DIR/src failed"
  download "$5@$2" >/dev/null
  echo "require $5 $2" >>go.mod
}

# tools_go PKG: a blank import of PKG, so that `go mod tidy` keeps what building it needs.
tools_go() { printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$1" >tools.go; }

# tool_finish PKG [LDFLAGS...]: tidies the module, builds PKG into the binary, says how long it all took.
tool_finish() {
  local pkg=$1
  shift
  go mod tidy >/dev/null 2>tidy.log || die "go mod tidy for $TOOL_NAME failed: $(grep -m3 -E 'module|error' tidy.log | tr '\n' ' ')"
  go build -trimpath -o "$TOOL_DIR/$TOOL_NAME.tmp" -ldflags "-s -w $*" "$pkg" 2>build.log \
    || die "go build of $TOOL_NAME failed: $(head -5 build.log | tr '\n' ' ')"
  mv "$TOOL_DIR/$TOOL_NAME.tmp" "$TOOL_DIR/$TOOL_NAME"
  say "built $TOOL_NAME $TOOL_VERSION in $((SECONDS - TOOL_T0)) s"
}
