#!/usr/bin/env bash
# Compiles the BPF programs into the committed objects. Needs clang and llvm-strip (Debian:
# clang llvm libbpf-dev). Output is deterministic for a given clang: the source path is fixed
# with -ffile-prefix-map and debug info other than BTF is stripped.
# Usage: bpf/build.sh [OUTDIR]   (default: bpf/, next to the sources)
set -euo pipefail
cd "$(dirname "$0")"
out=${1:-.}
for src in *.bpf.c; do
  obj="$out/${src%.c}.o"
  clang -O2 -g -target bpf -D__TARGET_ARCH_x86 -ffile-prefix-map="$PWD"=/pktmap/bpf \
    -fno-ident -I. -c "$src" -o "$obj"
  llvm-strip -g "$obj"
done
