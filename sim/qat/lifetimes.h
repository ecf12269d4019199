// When an evaluation that runs a graph's ops in order may drop each value, so that a large graph does
// not hold every intermediate tensor at once. Shared by the QAT evaluator and the integer simulator.
#pragma once

#include "ir/graph.h"

#include <unordered_map>
#include <vector>

namespace qatc::sim {

// For each value an op reads, the index in `ops` of the last op reading it; graph outputs are never
// dropped (their index is ops.size()).
std::unordered_map<const ir::Value*, size_t> last_uses(const ir::Graph& g, const std::vector<ir::Op*>& ops);

}  // namespace qatc::sim
