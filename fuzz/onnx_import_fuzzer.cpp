// libFuzzer target: bytes as an ONNX model through everything qatc does before code generation —
// protobuf parsing, libonnx's checker and shape inference, import, and the whole lowering.
// A refusal (qatc::Error, exit code 2 in the driver) is the expected answer to a bad model; any
// other exception, a crash, a leak, a sanitizer report or a hang is a bug.
#include "frontend/onnx_import.h"
#include "ir/error.h"
#include "passes/pass.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    qatc::frontend::ImportedModel m =
        qatc::frontend::import_onnx_bytes(std::string(reinterpret_cast<const char*>(data), size), "fuzz.onnx");
    qatc::passes::lower(m.graph, {});
  } catch (const qatc::Error&) {
  }
  return 0;
}
