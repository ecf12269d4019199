// The textual form of the IR (grammar in docs/ir.md). print_graph and parse_graph round-trip
// exactly: every number is written as the shortest text that reads back to the same bits.
#pragma once

#include "ir/graph.h"

#include <string>
#include <string_view>

namespace qatc::ir {

struct PrintOptions {
  // Constants with more elements than this print as `<N values>`, which the parser refuses:
  // for reading a large model, not for round-tripping. 0 prints everything.
  int64_t elide_constants_over = 0;
};

std::string print_graph(const Graph& graph, const PrintOptions& options = {});
std::string print_type(const TensorType& type);

// Throws Error with "file:line:col: message" on malformed text. Does not run the verifier.
Graph parse_graph(std::string_view text, const std::string& filename);

}  // namespace qatc::ir
