// One op on constant operands, evaluated by the exact QAT evaluator: shared by the importer (shape
// arithmetic such as Shape -> Gather -> Concat -> Reshape must be constants while the graph is read)
// and the fold-constants pass, so a folded value is what the exact semantics says, never a
// re-derivation.
#pragma once

#include "ir/graph.h"

#include <optional>

namespace qatc::sim {

// op's result when every operand is a constant, stored in the op's result dtype; nullopt when an
// operand is not a constant, the exact evaluator cannot compute it (qatc::Error), or an element of
// an f32 result is not exactly a float32 (folding must never round). Evaluated on copies of the
// operands in a graph of its own.
std::optional<ir::TensorData> fold_exactly(const ir::Op& op);

// The two halves of fold_exactly, for a caller that builds the op itself (the importer, which must
// not add it to the model's graph): copies of the constants `operands` in `alone` (one per name),
// and the folding of `op`, an op of `alone` reading only such copies.
std::vector<ir::Value*> add_constant_copies(ir::Graph& alone, const std::vector<ir::Value*>& operands);
std::optional<ir::TensorData> fold_alone(ir::Graph& alone, const ir::Op& op);

}  // namespace qatc::sim
