#!/usr/bin/env bash
# Installs every build, test and model-generation dependency from Debian 12 packages.
# Idempotent: does nothing (and needs no root) when everything is already installed.
#   scripts/setup.sh [bench]   bench: also Node.js and npm, for the ONNX Runtime peer in bench/
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libonnx-dev libprotobuf-dev protobuf-compiler   # ONNX model loading, checker, shape inference
  libonnx-testdata                                # ONNX backend node tests (conformance data)
  libhalide14-0-dev                               # kernel code generation (brings LLVM 14)
  libfmt-dev                                      # formatting
  libmpfr-dev                                     # correctly rounded sigmoid, tanh, erf, exp (exact mode)
  nlohmann-json3-dev                              # JSON reports
  libcli11-dev                                    # command-line parsing
  catch2                                          # unit tests
  llvm-14-tools                                   # FileCheck and lit for IR tests
  clang-14 libclang-rt-14-dev                     # libFuzzer with ASan/UBSan (fuzz/, make fuzz)
  python3 python3-torch python3-onnx python3-numpy  # regenerating the QAT regression models, the example
  python3-torchvision                             # torchvision's QAT architectures (tests/torchvision)
  chromium python3-pil                            # rendering verify's HTML report in a test
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ "${1:-}" = bench ] && ! { command -v node && command -v npm; } > /dev/null; then
  missing+=(nodejs npm)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
