#include "passes/fuse_saturation.h"

#include <cmath>

namespace qatc::passes {

void fuse_saturation(ir::Graph& g, const PassOptions&) {
  for (ir::Op* clip : g.ops()) {
    if (clip->kind != ir::OpKind::clip || ir::is_float(clip->outputs[0]->type.dtype)) continue;
    ir::Value* x = clip->inputs[0];
    ir::Op* rq = x->producer;
    if (!rq || rq->kind != ir::OpKind::requantize || g.users(x).size() != 1 || g.is_output(x)) continue;
    if (clip->outputs[0]->type != x->type) continue;
    // Integer clip bounds clip at ceil(min) and floor(max) (docs/ir.md).
    int64_t lo = rq->get_int("min"), hi = rq->get_int("max");
    if (clip->has("min")) lo = std::max(lo, static_cast<int64_t>(std::ceil(std::max(clip->get_float("min"), -0x1p62))));
    if (clip->has("max")) hi = std::min(hi, static_cast<int64_t>(std::floor(std::min(clip->get_float("max"), 0x1p62))));
    if (lo > hi) continue;  // clips everything to one side: leave it as written
    rq->attrs["min"] = lo;
    rq->attrs["max"] = hi;
    ir::Value* clipped = clip->outputs[0];
    std::string name = clipped->name;
    g.replace_all_uses(clipped, x);
    g.erase_op(clip);
    g.rename(x, name);
  }
}

}  // namespace qatc::passes
