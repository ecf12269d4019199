#include "passes/eliminate_dead_code.h"

#include <unordered_set>

namespace qatc::passes {

void eliminate_dead_code(ir::Graph& g, const PassOptions&) {
  std::unordered_set<const ir::Value*> live(g.outputs().begin(), g.outputs().end());
  std::vector<ir::Op*> ops = g.ops();
  // Backwards: an op is live if one of its results is; then its operands are.
  for (auto it = ops.rbegin(); it != ops.rend(); ++it) {
    ir::Op* op = *it;
    bool used = false;
    for (const ir::Value* out : op->outputs) used |= live.count(out) > 0;
    if (!used) {
      g.erase_op(op);
      continue;
    }
    live.insert(op->inputs.begin(), op->inputs.end());
  }
  g.erase_unused_values();
}

}  // namespace qatc::passes
