#!/usr/bin/env bash
# The benchmark: torchvision's ResNet-18, MobileNetV2 and MobileNetV3-Large (224x224, power-of-two
# QAT) and MobileNetV3's first HardSwish alone (a lookup-table layer), single thread, each run by
#   host      qatc's kernels as host objects (Halide's LLVM backend, --target host --emit obj)
#   c         qatc's generated C (the firmware path), built with -O3 -march=native
#   sim       qatc's bit-exact integer simulator
#   ort       ONNX Runtime 1.30 (npm onnxruntime-node), all graph optimizations, on the same
#             weights' int8 export (PyTorch's convert(): ORT runs QLinearConv) -- the peer
#   ort_qat   the same ORT on the QAT export qatc compiles (float convs between Q/DQ), for reference
# plus qatc compile's own time (cold, and with a warm kernel cache) and this core's measured int8
# peak. Everything is measured in this one run, the timed engines and the peak taking turns in
# ROUNDS rounds (a VM's speed drifts by a third within minutes: side by side, each engine sees
# every phase); bench/report.py prints the table from the medians over all rounds.
#   bench/run.sh [BUILD_DIR]      (REPEAT=N timed runs per engine, default 20; ROUNDS, default 4)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
B=$BUILD/bench
REPEAT=${REPEAT:-20}
ROUNDS=${ROUNDS:-4}
PER_ROUND=$(( (REPEAT + ROUNDS - 1) / ROUNDS ))
QATC=$BUILD/driver/qatc
export OMP_NUM_THREADS=1
bash "$ROOT/scripts/setup.sh" bench

mkdir -p "$B/results"
NETWORKS="resnet18 mobilenet_v2 mobilenet_v3_large"
# Regenerated when the generator changed (the models live in the build tree, not the repository).
GENERATOR=$(cat "$ROOT"/scripts/make_{bench,torchvision,qat}_models.py | sha256sum | cut -c1-16)
if [ "$(cat "$B/models/generator" 2>/dev/null)" != "$GENERATOR" ]; then
  rm -rf "$B/models"
  /usr/bin/python3 "$ROOT/scripts/make_bench_models.py" "$B/models"
  echo "$GENERATOR" > "$B/models/generator"
fi
if [ ! -d "$B/node/node_modules/onnxruntime-node" ]; then
  mkdir -p "$B/node"
  cp "$ROOT/bench/package.json" "$ROOT/bench/package-lock.json" "$B/node/"
  (cd "$B/node" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error)
fi

gcc -O2 -std=c11 "$ROOT/bench/int8_peak.c" -o "$B/int8_peak"
rm -f "$B"/results/peak.*.json

# ONNX Runtime on model file $1, $2 timed runs (profile under the current model's $R): JSON on stdout.
ort() { NODE_PATH=$B/node/node_modules node "$ROOT/bench/ort_bench.js" "$1" "$2" "$R/ort-profile" "${@:3}"; }
seconds() { local t0 t1; t0=$(date +%s%N); "$@" > /dev/null; t1=$(date +%s%N); echo "$(( (t1 - t0) / 1000000 ))"; }

for m in $NETWORKS hardswish; do
  M=$B/models/$m R=$B/results/$m O=$B/out/$m
  rm -rf "$R" && mkdir -p "$R"
  echo "== $m" >&2
  rm -rf "$B/cache"
  cold=$(seconds "$QATC" compile "$M/model.onnx" --target host --emit obj --name qatc_bench --no-kernel-cache -o "$O")
  QATC_KERNEL_CACHE=$B/cache "$QATC" compile "$M/model.onnx" --target host --emit obj --name qatc_bench -o "$O" > /dev/null
  warm=$(QATC_KERNEL_CACHE=$B/cache seconds "$QATC" compile "$M/model.onnx" --target host --emit obj --name qatc_bench -o "$O")
  echo "{\"cold_ms\": $cold, \"warm_ms\": $warm}" > "$R/compile.json"
  # What is timed is also right: the generated C against the simulator and torch's output.
  "$QATC" verify "$M/model.onnx" --data "$M" --engine all --target host -q --work-dir "$B/verify/$m" > "$R/verify.txt"
  # The host objects in the host target's layout (channels last); the generated C in the planar
  # layout the firmware targets (c7x-*) take, whose C schedules are written for it, compiled for C
  # alone as firmware is (the weights arranged for the C loops).
  "$QATC" compile "$M/model.onnx" --target host --layout planar --name qatc_bench --no-kernel-cache -o "$O-planar" > /dev/null
  make -s -j"$(nproc)" -f "$ROOT/bench/Makefile" FIRMWARE="$O" BUILD="$B/build/$m" "$B/build/$m/bench_host"
  make -s -j"$(nproc)" -f "$ROOT/bench/Makefile" FIRMWARE="$O-planar" BUILD="$B/build/$m-planar" "$B/build/$m-planar/bench_c"
  "$BUILD/bench/qatc-bench-model" "$M/model.onnx" "$M/test_data_set_0/input_0.pb" --repeat 3 > "$R/sim.json"
  if [ -f "$M/int8.onnx" ]; then
    # ORT's output on the first data set, for report.py to compare with the trained model's.
    /usr/bin/python3 -c 'import sys, onnx; from onnx import numpy_helper
t = onnx.load_tensor(sys.argv[1]); numpy_helper.to_array(t).astype("float32").tofile(sys.argv[2])' "$M/test_data_set_0/input_0.pb" "$R/input_0.f32"
    peer=("$M/int8.onnx" "$R/input_0.f32" "$R/ort_output_0.f32")
    ort "$M/model.onnx" "$REPEAT" > "$R/ort_qat.json"
  else  # the HardSwish layer has no int8 export: ORT runs its QDQ graph
    peer=("$M/model.onnx")
  fi
  for round in $(seq "$ROUNDS"); do
    "$B/build/$m/bench_host" "$PER_ROUND" > "$R/host.$round.json"
    "$B/build/$m-planar/bench_c" "$PER_ROUND" > "$R/c.$round.json"
    ort "${peer[0]}" "$PER_ROUND" "${peer[@]:1}" > "$R/ort.$round.json"
    "$B/int8_peak" > "$B/results/peak.$m.$round.json"
  done
done
/usr/bin/python3 "$ROOT/bench/report.py" "$B"
