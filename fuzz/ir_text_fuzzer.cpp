// libFuzzer target: bytes as IR text (docs/ir.md) through the parser, the verifier, the printer
// and the parser again; a graph that verifies must print to text that parses to the same text.
// A refusal (qatc::Error) is the expected answer to bad text; anything else is a bug.
#include "ir/error.h"
#include "ir/text.h"
#include "ir/verifier.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string printed;
  try {
    qatc::ir::Graph g = qatc::ir::parse_graph(text, "fuzz.qir");
    qatc::ir::verify(g);
    printed = qatc::ir::print_graph(g);
  } catch (const qatc::Error&) {
    return 0;
  }
  // The round trip is not input validation: a failure here is a bug, reported as a crash.
  if (qatc::ir::print_graph(qatc::ir::parse_graph(printed, "printed.qir")) != printed) std::abort();
  return 0;
}
