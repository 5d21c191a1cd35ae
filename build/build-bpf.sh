#!/usr/bin/env bash
# Compiles bpf/*.bpf.c into build/out/*.bpf.o (clang -O2 -g -target bpf, BTF included).
# Idempotent: an object is rebuilt only when its source or any header is newer than it.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/out
CLANG=${CLANG:-clang}
ARCH_INC=/usr/include/$(uname -m)-linux-gnu
newest_header=$(ls -t bpf/include/*.h | head -1)
for src in bpf/*.bpf.c; do
  obj="build/out/$(basename "${src%.c}").o"
  if [ -f "$obj" ] && [ "$obj" -nt "$src" ] && [ "$obj" -nt "$newest_header" ] && [ "$obj" -nt build/build-bpf.sh ]; then
    continue
  fi
  printf '[build-bpf] %s\n' "$obj" >&2
  "$CLANG" -O2 -g -Wall -Werror -target bpf -D__TARGET_ARCH_x86 -I"$ARCH_INC" -Ibpf -c "$src" -o "$obj.tmp"
  mv "$obj.tmp" "$obj"
done
