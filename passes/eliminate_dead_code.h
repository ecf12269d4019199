#pragma once

#include "passes/pass.h"

namespace qatc::passes {

// Removes ops whose results nobody reads (not an op operand, not a graph output) and the
// constants left unused.
void eliminate_dead_code(ir::Graph& graph, const PassOptions& options);

}  // namespace qatc::passes
