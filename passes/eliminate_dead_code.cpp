#include "passes/eliminate_dead_code.h"

#include <unordered_set>

namespace qatc::passes {

// Liveness flows from the graph outputs through producers, so op order does not matter (passes
// may call this before re-sorting the ops they appended).
void eliminate_dead_code(ir::Graph& g, const PassOptions&) {
  std::unordered_set<const ir::Op*> live_ops;
  std::vector<const ir::Value*> work(g.outputs().begin(), g.outputs().end());
  while (!work.empty()) {
    const ir::Value* v = work.back();
    work.pop_back();
    if (v->producer && live_ops.insert(v->producer).second)
      work.insert(work.end(), v->producer->inputs.begin(), v->producer->inputs.end());
  }
  for (ir::Op* op : g.ops())
    if (!live_ops.count(op)) g.erase_op(op);
  g.erase_unused_values();
}

}  // namespace qatc::passes
