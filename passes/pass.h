// A pass rewrites a graph in place. Every pass has a command-line name; passes/pipeline.cpp lists
// them in the order the lowering runs them.
#pragma once

#include "ir/graph.h"

#include <functional>
#include <string_view>
#include <vector>

namespace qatc::passes {

struct PassOptions {
  // Lower non-power-of-two scales with a Q31 multiplier instead of refusing them. Exactness
  // against the QAT forward pass is then no longer guaranteed (verify still measures it).
  bool allow_non_pot = false;
};

struct Pass {
  std::string_view name;     // as on the command line: "fold-constants"
  std::string_view summary;  // one line for --help
  void (*run)(ir::Graph& graph, const PassOptions& options);
};

// Every pass, in pipeline order (pipeline.cpp).
const std::vector<Pass>& pipeline();
const Pass* find_pass(std::string_view name);

// Runs one pass and verifies the graph after it: a pass that leaves a malformed graph is a bug.
void run_pass(const Pass& pass, ir::Graph& graph, const PassOptions& options);
// The whole lowering: the imported fake-quant graph becomes the integer graph. `after_each`, if
// set, sees the graph after every pass (qatc --verbose reports op counts and times).
void lower(ir::Graph& graph, const PassOptions& options,
           const std::function<void(const Pass&, const ir::Graph&)>& after_each = {});

}  // namespace qatc::passes
