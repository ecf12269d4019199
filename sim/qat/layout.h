// The index maps behind pad, resize and slice, shared with code generation so that a generated gather
// reads exactly the elements the reference evaluators read.
#pragma once

#include "ir/graph.h"

#include <vector>

namespace qatc::sim {

constexpr int64_t kFill = -1;  // "no source element" in a per-axis source map

// For a pad, resize or slice op over an input of shape `in`: per axis d, the input index each output index
// along d reads, or kFill where a constant pad supplies the value. Throws Error naming the op for an
// unsupported mode.
std::vector<std::vector<int64_t>> axis_sources(const ir::Op& op, const ir::Shape& in);

}  // namespace qatc::sim
