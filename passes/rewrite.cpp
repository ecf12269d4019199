#include "passes/rewrite.h"

#include <algorithm>

namespace qatc::passes {

void replace_op_result(ir::Graph& graph, ir::Op* op, ir::Value* replacement) {
  ir::Value* old = op->outputs[0];
  const std::string name = old->name;
  graph.replace_all_uses(old, replacement);
  // The old result lives until erase_op; it hands its name over first.
  graph.rename(old, graph.unique_name(name + ".replaced"));
  graph.rename(replacement, name);
  graph.erase_op(op);
}

void erase_if_unused(ir::Graph& graph, ir::Op* op) {
  const ir::Value* result = op->outputs[0];
  const auto& outputs = graph.outputs();
  if (graph.users(result).empty() && std::find(outputs.begin(), outputs.end(), result) == outputs.end())
    graph.erase_op(op);
}

}  // namespace qatc::passes
