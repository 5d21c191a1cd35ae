#!/usr/bin/env bash
# Bootstraps everything vxmesh needs on a Debian 12 machine; idempotent and quick when nothing is missing.
#   apt packages -> npm ci -> BPF objects -> CNI plugin (Go) -> TypeScript build
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*" >&2; }

# command -> Debian package providing it
declare -A NEED=(
  [clang]=clang [llc]=llvm [bpftool]=bpftool [ip]=iproute2 [bridge]=iproute2 [tc]=iproute2
  [iperf3]=iperf3 [sockperf]=sockperf [tcpdump]=tcpdump [nft]=nftables [iptables]=iptables
  [ping]=iputils-ping [arping]=iputils-arping [socat]=socat [ethtool]=ethtool [jq]=jq
  [dnsmasq]=dnsmasq-base [udhcpc]=udhcpc [dhclient]=isc-dhcp-client [pkill]=procps [modprobe]=kmod
  [kubectl]=kubernetes-client [openssl]=openssl
)
missing=()
for cmd in "${!NEED[@]}"; do command -v "$cmd" >/dev/null 2>&1 || missing+=("${NEED[$cmd]}"); done
[ -e /usr/include/bpf/bpf_helpers.h ] || missing+=(libbpf-dev)
ls /usr/lib/x86_64-linux-gnu/libbpf.so.1 /usr/lib/*/libbpf.so.1 >/dev/null 2>&1 || missing+=(libbpf1)
[ -e /usr/lib/python3/dist-packages/scapy/__init__.py ] || missing+=(python3-scapy)
[ -d /usr/include/x86_64-linux-gnu/asm ] || [ -d /usr/include/asm ] || missing+=(linux-libc-dev)
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  say "installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then echo "setup: installing packages needs root (sudo npm run …)" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node dependencies: reinstall when the lockfile changed since the last install.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

# BPF objects (precompiled here; the agent only loads them).
if [ -x build/build-bpf.sh ] || [ -f build/build-bpf.sh ]; then
  bash build/build-bpf.sh
fi

# The CNI plugin the runtime executes on the node (a static Go binary: cni/, build/out/cni/vxmesh-cni).
bash build/cni-plugin.sh

# TypeScript: rebuild when any source is newer than the last build.
if [ ! -f dist/.built ] || [ -n "$(find src -newer dist/.built -name '*.ts' -print -quit)" ] || [ tsconfig.json -nt dist/.built ]; then
  say "tsc"
  rm -rf dist
  npx tsc -p tsconfig.json
  touch dist/.built
fi
