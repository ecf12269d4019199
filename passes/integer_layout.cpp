// Why each move is exact, with dq(q) = (q - zp) * scale per element (per slice for per-axis grids):
//  - reshape, transpose, resize, pad (reflect, edge), concat only copy elements to other positions;
//    an elementwise dq commutes with any such index map, as long as each element keeps its slice's
//    parameters (quant_propagation.h moves the per-axis axis along or refuses).
//  - maxpool: dq is increasing (scale > 0), so the largest dequantized value is the dequantized
//    largest integer; padding never wins in either.
//  - pad (constant v): the inserted v must be a dequantized integer p of the type's range.
//  - relu: dq(q) >= 0 exactly when q >= zp, so relu(dq(q)) = dq(max(q, zp)).
//  - clip(lo, hi) with lo = dq(a), hi = dq(b): by monotonicity clip(dq(q), lo, hi) = dq(clip(q, a, b)).
//  - quantize(dq(q)) with q's own parameters: the quotient is the integer q - zp, no rounding happens.
// All of these are exact in float32 arithmetic too when the scales are float32 numbers: float32's dq
// rounds each element on its own, monotonically, and hits the grid points lo, hi, v and 0 exactly.
#include "passes/integer_layout.h"

#include "passes/quant_propagation.h"
#include "passes/rewrite.h"
#include "sim/qat/exact.h"
#include "sim/qat/numeric_error.h"

#include <algorithm>
#include <functional>

namespace qatc::passes {

namespace {

using K = ir::OpKind;

ir::Op* dequantize_producer(const ir::Value* v) {
  return v->producer && v->producer->kind == K::dequantize ? v->producer : nullptr;
}

// The integer p with (p - zp) * scale == v exactly, the same p in every slice of q; nullopt if v is off
// the grid.
std::optional<int64_t> grid_point(double v, const ir::QuantParams& q) {
  std::optional<int64_t> point;
  for (size_t i = 0; i < q.scales.size(); ++i) {
    sim::ExactQuotient r;
    try {
      r = sim::divide_for_rounding(sim::Exact::from_double(v), q.scales[i]);
    } catch (const sim::NumericError&) {
      return std::nullopt;  // v is infinite or NaN
    }
    if (r.fraction.nonzero || r.magnitude >= sim::kSaturatedMagnitude) return std::nullopt;
    const int64_t p = (r.negative ? -r.magnitude : r.magnitude) + q.zero_points[i];
    if (point && *point != p) return std::nullopt;
    point = p;
  }
  return point;
}

// The zero point shared by every slice of q.
std::optional<int64_t> common_zero_point(const ir::QuantParams& q) {
  const auto& zps = q.zero_points;
  if (std::adjacent_find(zps.begin(), zps.end(), std::not_equal_to<>()) != zps.end()) return std::nullopt;
  return zps[0];
}

// The integer op that replaces a float op: its kind and attributes.
struct IntegerForm {
  ir::OpKind kind;
  std::map<std::string, ir::AttrValue> attrs;
};

// Clip bounds on the grid, clamped to the type's range where they lie beyond it (they act the same
// there). Refuses bounds whose clip would leave the range: its result is off the integer type.
std::optional<IntegerForm> integer_clip(const ir::Op& op, const ir::QuantParams& q) {
  IntegerForm form{K::clip, {}};
  std::optional<int64_t> lo, hi;
  if (op.has("min") && !(lo = grid_point(op.get_float("min"), q))) return std::nullopt;
  if (op.has("max") && !(hi = grid_point(op.get_float("max"), q))) return std::nullopt;
  if ((lo && hi && *lo > *hi) || (lo && *lo > q.qmax()) || (hi && *hi < q.qmin())) return std::nullopt;
  if (lo) form.attrs["min"] = static_cast<double>(std::max(*lo, q.qmin()));
  if (hi) form.attrs["max"] = static_cast<double>(std::min(*hi, q.qmax()));
  return form;
}

// The integer form of float `op` on operands quantized as q, or nullopt if it has none that is exact.
std::optional<IntegerForm> integer_form(const ir::Op& op, const ir::QuantParams& q) {
  switch (op.kind) {
    case K::reshape:
    case K::transpose:
    case K::slice:
    case K::resize:
    case K::maxpool:
    case K::concat: return IntegerForm{op.kind, op.attrs};
    case K::relu:
      if (auto zp = common_zero_point(q)) return IntegerForm{K::clip, {{"min", static_cast<double>(*zp)}}};
      return std::nullopt;
    case K::clip: return integer_clip(op, q);
    case K::pad: {
      // The pad value must be a grid point in range; reflect and edge never read it, but an integer
      // pad's value must still be whole: the zero point serves.
      const auto p = grid_point(op.get_float("value"), q);
      const bool in_range = p && *p >= q.qmin() && *p <= q.qmax();
      if (op.get_string("mode") == "constant" && !in_range) return std::nullopt;
      IntegerForm form{K::pad, op.attrs};
      form.attrs["value"] = static_cast<double>(in_range ? *p : q.zero_points[0]);
      return form;
    }
    default: return std::nullopt;
  }
}

// op(dequantize(q)...) -> dequantize(op'(q...)). Returns whether it moved.
bool move_onto_integers(ir::Graph& g, ir::Op* op) {
  std::vector<ir::Op*> dequantizes;
  std::vector<ir::Value*> quantized;
  for (const ir::Value* in : op->inputs) {
    ir::Op* dq = dequantize_producer(in);
    if (!dq) return false;
    dequantizes.push_back(dq);
    quantized.push_back(dq->inputs[0]);
  }
  for (const ir::Value* q : quantized)
    if (q->type.dtype != quantized[0]->type.dtype) return false;  // concat of i8 and u8: not one integer op
  const auto quant = propagated_quant(*op, quantized);
  if (!quant) return false;
  const auto form = integer_form(*op, *quantized[0]->type.quant);
  if (!form) return false;
  const ir::Value* result = op->outputs[0];
  const ir::TensorType integer_type{quantized[0]->type.dtype, result->type.shape, quant};
  ir::Op* moved = g.add_op(form->kind, quantized, {{g.unique_name(result->name + ".q"), integer_type}}, form->attrs,
                           op->name);
  ir::Op* dq = g.add_op(K::dequantize, {moved->outputs[0]}, {{g.unique_name(result->name), result->type}}, {},
                        dequantizes[0]->name);
  replace_op_result(g, op, dq->outputs[0]);
  std::sort(dequantizes.begin(), dequantizes.end());
  dequantizes.erase(std::unique(dequantizes.begin(), dequantizes.end()), dequantizes.end());
  for (ir::Op* old : dequantizes) erase_if_unused(g, old);
  return true;
}

// quantize(dequantize(q)) -> q when the quantize's result has q's very type: the quotient is the
// integer q - zp, whatever the rounding rule, and q + 0 is in range. A computed q takes the
// quantize's name (the model's name for the tensor, and perhaps a graph output's).
bool remove_requantize_identity(ir::Graph& g, ir::Op* quantize) {
  ir::Op* dq = dequantize_producer(quantize->inputs[0]);
  ir::Value* q = dq ? dq->inputs[0] : nullptr;
  if (!q || q->type != quantize->outputs[0]->type) return false;
  if (q->producer) {
    replace_op_result(g, quantize, q);
  } else {
    g.replace_all_uses(quantize->outputs[0], q);
    g.erase_op(quantize);
  }
  erase_if_unused(g, dq);
  return true;
}

// quantize(m(t)) -> m(quantize(t)) for a reshape, transpose or slice m of a computed float t (MCT's
// GlobalAveragePool -> Flatten -> quantizer): a per-tensor quantize rounds each element on its own,
// so it commutes with any op that only moves elements. The quantize then meets t's producer, where
// the lowering finds it; the moved op keeps the quantize's name.
bool sink_below_quantize(ir::Graph& g, ir::Op* quantize) {
  const ir::Value* moved = quantize->inputs[0];
  ir::Op* m = moved->producer;
  const ir::QuantParams& q = *quantize->outputs[0]->type.quant;
  if (!m || (m->kind != K::reshape && m->kind != K::transpose && m->kind != K::slice) || q.per_axis() ||
      g.users(moved).size() != 1 || g.is_output(moved))
    return false;
  ir::Value* t = m->inputs[0];
  if (t->is_constant() || dequantize_producer(t) || !ir::is_float(t->type.dtype)) return false;
  const ir::TensorType at_t{quantize->outputs[0]->type.dtype, t->type.shape, q};
  ir::Op* early = g.add_op(K::quantize, {t}, {{g.unique_name(t->name + ".q"), at_t}}, quantize->attrs, quantize->name);
  ir::Op* after = g.add_op(m->kind, {early->outputs[0]}, {{g.unique_name(moved->name + ".q"), quantize->outputs[0]->type}},
                           m->attrs, m->name);
  replace_op_result(g, quantize, after->outputs[0]);
  erase_if_unused(g, m);
  return true;
}

}  // namespace

void integer_layout(ir::Graph& g, const PassOptions&) {
  for (bool changed = true; changed;) {
    changed = false;
    // A rewrite erases only the op it visits and dequantizes before it, and appends new ops, which
    // the next sweep sees: the op list stays valid to walk.
    for (ir::Op* op : g.ops()) {
      if (op->kind == K::quantize) changed |= remove_requantize_identity(g, op) || sink_below_quantize(g, op);
      else if (ir::is_float(op->outputs[0]->type.dtype)) changed |= move_onto_integers(g, op);
    }
    g.sort_topologically();
  }
}

}  // namespace qatc::passes
