#include "sim/qat/lifetimes.h"

namespace qatc::sim {

std::unordered_map<const ir::Value*, size_t> last_uses(const ir::Graph& g, const std::vector<ir::Op*>& ops) {
  std::unordered_map<const ir::Value*, size_t> last;
  for (size_t i = 0; i < ops.size(); ++i)
    for (const ir::Value* in : ops[i]->inputs) last[in] = i;
  for (const ir::Value* out : g.outputs()) last[out] = ops.size();
  return last;
}

}  // namespace qatc::sim
