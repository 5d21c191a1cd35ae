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
