#!/usr/bin/env bash
# Fuzzes what qatc reads from untrusted files, with libFuzzer, AddressSanitizer (leaks included)
# and UndefinedBehaviorSanitizer, in a clang-14 build of its own:
#   onnx_import_fuzzer  bytes as an ONNX model: protobuf, qatc's checks and import, libonnx's checker
#                       and shape inference (isolated, as in the driver), the whole lowering; its
#                       mutations are structure-aware (fuzz/onnx_model_mutator.cpp) and byte-level
#                       with a dictionary of operator and attribute names (fuzz/onnx.dict)
#   ir_text_fuzzer      bytes as IR text: parser, verifier, printer, parser again
# seeded with the regression models, copies of them with each integer attribute at 0, -1 and 2^31
# (fuzz/attribute_seeds.py), the inputs fuzzing found failing (fuzz/regressions/), the hostile-model corpus, a sample of the schema-driven models
# (tests/tools/schema_models.py) and the IR tests.
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
# Quiet unless it fails; then the compiler's errors, which would otherwise surface only as make's
# "Error 1" after the whole test suite (a clang-14-only error did, once).
if ! cmake --build "$BUILD" -j "$(nproc)" > "$BUILD/build.log" 2>&1; then
  echo "fuzz: the clang-14 fuzz build failed ($BUILD/build.log):" >&2
  grep -E -A5 'error|Error' "$BUILD/build.log" | head -40 >&2
  exit 1
fi

# Seeds: read-only, next to each target's own growing corpus.
seeds=$BUILD/seeds
rm -rf "$seeds" && mkdir -p "$seeds/onnx" "$seeds/ir" "$BUILD/corpus/onnx" "$BUILD/corpus/ir" "$BUILD/crashes"
for f in "$ROOT"/tests/models/*/model.onnx; do
  cp "$f" "$seeds/onnx/$(basename "$(dirname "$f")").onnx"
done
/usr/bin/python3 "$ROOT/tests/tools/hostile_models.py" "$seeds/onnx" "$ROOT/tests/models"
rm -f "$seeds"/onnx/*chain_*.onnx  # thousands of nodes: slow to mutate, and tested on their own
cp "$ROOT"/fuzz/regressions/*.onnx "$seeds/onnx/"  # every input a fuzzer found failing, run again first
/usr/bin/python3 "$ROOT/fuzz/attribute_seeds.py" "$seeds/onnx" "$ROOT"/tests/models/*/model.onnx > /dev/null
/usr/bin/python3 "$ROOT/tests/tools/schema_models.py" "$seeds/onnx" --every "$($SMOKE && echo 40 || echo 4)" > /dev/null
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
  dict=()
  [ "$kind" = onnx ] && dict=(-dict="$ROOT/fuzz/onnx.dict")
  # Allocations beyond 2 GiB fail (std::bad_alloc) instead of ending the run: the isolated libonnx
  # stage runs without an address-space limit under ASan, and turns bad_alloc into a refusal.
  if ! ASAN_OPTIONS=allocator_may_return_null=1:max_allocation_size_mb=2048 \
      "$BUILD/fuzz/$target" "${budget[@]}" "${dict[@]}" -timeout=20 -rss_limit_mb=4096 -max_len=1048576 \
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
