#!/usr/bin/env bash
# Fuzzes what qatc reads from untrusted files, with libFuzzer, AddressSanitizer (leaks included)
# and UndefinedBehaviorSanitizer, in a clang-14 build of its own:
#   onnx_import_fuzzer  bytes as an ONNX model: protobuf, libonnx checker and shape inference,
#                       import, the whole lowering
#   ir_text_fuzzer      bytes as IR text: parser, verifier, printer, parser again
# seeded with the regression models, the hostile-model corpus and the IR tests.
#   fuzz/run.sh [SECONDS_PER_TARGET]   `make fuzz`: 150 s per target, the corpus kept between runs
#   fuzz/run.sh --smoke                 `make test`: a fixed number of runs from a fixed seed and
#                                       the seeds alone, so that it is repeatable (under 60 s in all)
# Prints each target's executions; exits non-zero on any crash, leak, sanitizer report or timeout,
# leaving the input under $FUZZ_BUILD/crashes/ (turn it into a test in tests/lit/hostile/).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${FUZZ_BUILD:-$ROOT/build-fuzz}
SMOKE=false
[ "${1:-}" = --smoke ] && SMOKE=true
SECONDS_PER_TARGET=${1:-150}

cmake -S "$ROOT" -B "$BUILD" -G Ninja -DQATC_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 > /dev/null
cmake --build "$BUILD" -j "$(nproc)" > /dev/null

# Seeds: read-only, next to each target's own growing corpus.
seeds=$BUILD/seeds
rm -rf "$seeds" && mkdir -p "$seeds/onnx" "$seeds/ir" "$BUILD/corpus/onnx" "$BUILD/corpus/ir" "$BUILD/crashes"
for f in "$ROOT"/tests/models/*/model.onnx; do
  cp "$f" "$seeds/onnx/$(basename "$(dirname "$f")").onnx"
done
/usr/bin/python3 "$ROOT/tests/tools/hostile_models.py" "$seeds/onnx" "$ROOT/tests/models"
rm -f "$seeds"/onnx/*chain_*.onnx  # thousands of nodes: slow to mutate, and tested on their own
for f in "$ROOT"/tests/lit/*/*.qir; do
  # One seed per graph of a split-input file.
  awk -v out="$seeds/ir/$(basename "$f" .qir)" '/^\/\/ -----/ { n++; next } { print > (out "_" n+0 ".qir") }' "$f"
done

status=0
total=0
crashes_before=$(ls "$BUILD/crashes" | wc -l)
for target in onnx_import_fuzzer ir_text_fuzzer; do
  kind=${target%%_*}
  log=$BUILD/$target.log
  corpus=$BUILD/corpus/$kind
  if $SMOKE; then
    corpus=$BUILD/smoke-corpus/$kind
    rm -rf "$corpus" && mkdir -p "$corpus"
    [ "$kind" = onnx ] && budget=(-runs=3000 -seed=1) || budget=(-runs=300000 -seed=1)
  else
    budget=(-max_total_time="$SECONDS_PER_TARGET")
  fi
  if ! "$BUILD/fuzz/$target" "${budget[@]}" -timeout=20 -rss_limit_mb=4096 -max_len=1048576 \
      -print_final_stats=1 -artifact_prefix="$BUILD/crashes/$target-" "$corpus" "$seeds/$kind" > "$log" 2>&1; then
    echo "fuzz: $target found a failure (log $log):" >&2
    grep -m3 -E "ERROR|SUMMARY|Test unit written" "$log" >&2 || tail -5 "$log" >&2
    status=1
  fi
  runs=$(grep -oP 'stat::number_of_executed_units:\s*\K[0-9]+' "$log" || echo 0)
  total=$((total + runs))
  echo "fuzz: $target: $runs executions, corpus $(ls "$corpus" | wc -l) inputs"
done
echo "fuzz: $total executions in all; crashes/leaks found: $(( $(ls "$BUILD/crashes" | wc -l) - crashes_before ))"
exit $status
