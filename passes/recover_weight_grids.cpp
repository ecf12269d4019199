#include "passes/recover_weight_grids.h"

#include "ir/error.h"

#include <cmath>

namespace qatc::passes {

namespace {

// Whether `v` holds dequantized integers, directly or through pure data movement.
bool is_dequantized(const ir::Value* v) {
  for (const ir::Op* p = v->producer; p; p = p->inputs[0]->producer) {
    if (p->kind == ir::OpKind::dequantize) return true;
    if (p->kind != ir::OpKind::reshape && p->kind != ir::OpKind::transpose) return false;
  }
  return false;
}

// The exponent of the lowest set bit of a nonzero float's significand: v = odd · 2^e.
int lowest_bit_exponent(double v) {
  int exponent = 0;
  double m = std::frexp(std::fabs(v), &exponent);  // m in [0.5, 1), v = m · 2^exponent
  int e = exponent - 53;                           // m · 2^53 is an integer
  for (auto bits = static_cast<uint64_t>(std::ldexp(m, 53)); bits % 2 == 0; bits /= 2) ++e;
  return e;
}

// The float weight `w` of `op`, per channel along `axis`, as an int8 constant with its grid.
ir::Value* integer_weights(ir::Graph& g, const ir::Op& op, const ir::Value& w, int axis) {
  const ir::TensorData& d = *w.data;
  const ir::Shape& shape = d.shape();
  const int64_t channels = shape[static_cast<size_t>(axis)];
  int64_t inner = 1;
  for (size_t i = static_cast<size_t>(axis) + 1; i < shape.size(); ++i) inner *= shape[i];
  auto channel_of = [&](int64_t i) { return (i / inner) % channels; };

  std::vector<int> grid(static_cast<size_t>(channels), INT32_MAX);  // coarsest exponent so far
  for (int64_t i = 0; i < d.size(); ++i) {
    const double v = d.float_at(i);
    if (!std::isfinite(v)) fail("{}: weight '{}' holds {} at {}", op.describe(), w.name, v, i);
    if (v != 0) grid[static_cast<size_t>(channel_of(i))] = std::min(grid[static_cast<size_t>(channel_of(i))], lowest_bit_exponent(v));
  }
  ir::QuantParams q;
  q.axis = axis;
  for (int& e : grid) {
    if (e == INT32_MAX) e = 0;  // an all-zero channel is on every grid
    q.scales.push_back(std::ldexp(1.0, e));
    q.zero_points.push_back(0);
  }
  ir::TensorData ints(ir::DType::i8, shape);
  for (int64_t i = 0; i < d.size(); ++i) {
    const double v = d.float_at(i), units = std::ldexp(v, -grid[static_cast<size_t>(channel_of(i))]);
    if (units < -128 || units > 127)
      fail("{}: weight '{}' is not on an 8-bit power-of-two grid: channel {} needs {} steps of 2^{} for {}",
           op.describe(), w.name, channel_of(i), units, grid[static_cast<size_t>(channel_of(i))], v);
    ints.as<int8_t>()[static_cast<size_t>(i)] = static_cast<int8_t>(units);
  }
  return g.add_constant(g.unique_name(w.name + ".q"), std::move(ints), q);
}

}  // namespace

void recover_weight_grids(ir::Graph& g, const PassOptions&) {
  bool changed = false;
  for (ir::Op* op : g.ops()) {
    if ((op->kind != ir::OpKind::conv && op->kind != ir::OpKind::matmul) || op->inputs.size() < 2) continue;
    ir::Value* w = op->inputs[1];
    if (!w->is_constant() || w->type.dtype != ir::DType::f32 || !is_dequantized(op->inputs[0])) continue;
    const int axis = op->kind == ir::OpKind::conv ? 0 : static_cast<int>(w->type.shape.size()) - 1;
    ir::Value* ints = integer_weights(g, *op, *w, axis);
    ir::Op* dq = g.add_op(ir::OpKind::dequantize, {ints}, {{g.unique_name(w->name + ".dq"), {ir::DType::f32, w->type.shape, std::nullopt}}});
    op->inputs[1] = dq->outputs[0];
    changed = true;
  }
  if (changed) {
    g.sort_topologically();
    g.erase_unused_values();
  }
}

}  // namespace qatc::passes
