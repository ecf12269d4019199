#!/bin/sh
# host_objects.sh QATC MODEL WORK: compiles MODEL for the host target with its host objects (Halide's
# LLVM backend, the host's channels-last layout), builds make bench's harness against both the
# objects and the generated C, and fails unless the objects reference nothing beyond memcpy and
# memset (firmware has no halide_malloc) and compute the same output as the C, which verify --engine c
# holds to the simulator.
set -eu
qatc=$1 model=$2 work=$3
bench=$(cd "$(dirname "$0")/../../bench" && pwd)
rm -rf "$work"
"$qatc" compile "$model" --target host --emit obj --name qatc_bench -o "$work/fw" -q
for o in "$work"/fw/kernels/*.o; do
  if nm -u "$o" | grep -v -e " U memcpy$" -e " U memset$" | grep -q .; then
    echo "$o references $(nm -u "$o" | grep -v -e " U memcpy$" -e " U memset$" | tr -s ' \n' ' ')" >&2
    exit 1
  fi
done
make -s -f "$bench/Makefile" FIRMWARE="$work/fw" BUILD="$work/build" all
hash() { "$1" 1 | sed 's/.*"output_fnv1a": "\([0-9a-f]*\)".*/\1/'; }
host=$(hash "$work/build/bench_host") c=$(hash "$work/build/bench_c")
[ -n "$host" ] && [ "$host" = "$c" ] || { echo "host objects: output $host, generated C: $c" >&2; exit 1; }
echo "host objects and generated C: output $host"
