// Graph surgery shared by the rewriting passes.
#pragma once

#include "ir/graph.h"

namespace qatc::passes {

// Replaces the result of `op` by `replacement` everywhere (operands and graph outputs), erases `op`
// and gives `replacement` the old result's name, so that the rewritten graph reads like the original
// and graph outputs keep their names. A replacement nobody reads is erased with `op`.
void replace_op_result(ir::Graph& graph, ir::Op* op, ir::Value* replacement);

// Erases `op` if no op reads its result and it is not a graph output.
void erase_if_unused(ir::Graph& graph, ir::Op* op);

}  // namespace qatc::passes
