// libFuzzer target: bytes as an ONNX model through everything qatc does before code generation —
// protobuf parsing, qatc's own checks and conversion, libonnx's checker and shape inference (in their
// isolated child process, as the driver runs them), and the whole lowering. Inputs come from
// fuzz/onnx_model_mutator.cpp's structure-aware mutations and libFuzzer's byte mutations.
// A refusal (qatc::Error, exit code 2 in the driver) is the expected answer to a bad model; any
// other exception, a crash, a leak, a sanitizer report or a hang is a bug.
#include "frontend/onnx_import.h"
#include "ir/error.h"
#include "ir/limits.h"
#include "passes/pass.h"

#include <cstddef>
#include <cstdint>
#include <string>

// libonnx gets a short CPU-time limit: a hang there must end as a refusal long before libFuzzer's
// -timeout would report it as qatc's.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  qatc::ir::limits().max_import_seconds = 2;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    qatc::frontend::ImportedModel m =
        qatc::frontend::import_onnx_bytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz.onnx");
    qatc::passes::lower(m.graph, {});
  } catch (const qatc::Error&) {
  }
  return 0;
}
