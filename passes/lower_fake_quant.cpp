#include "passes/lower_fake_quant.h"

#include "ir/error.h"
#include "passes/affine_chain.h"
#include "passes/eliminate_dead_code.h"
#include "passes/integer_form.h"
#include "passes/lookup_table.h"
#include "passes/requantize_builder.h"
#include "sim/qat/numeric_error.h"

#include <algorithm>

namespace qatc::passes {

using sim::Exact;

namespace {

// quantize(A_c · v + B_c) of a value v in integer form: one requantize of its integers. A channel
// whose scale A_c · unit_c is negative has its integers negated first (a sign flip swaps which
// bound is which only on the integers, never on y, where ReLU/Clip bounds live), and one whose
// ratio to the output scale has a small odd factor has its integers multiplied by it.
ir::Value* requantize_form(ir::Graph& g, IntegerForms& forms, IntegerForm f, AffineChain chain, const ir::Op& quantize,
                           const PassOptions& options, const std::string& name) {
  const ir::QuantParams& q = *quantize.outputs[0]->type.quant;
  // Channels of the chain's constants or of the output grid along another axis than the form's:
  // the form gives up its channels (one unit, offset on the grid).
  for (int other : {chain.axis, q.per_axis() ? q.axis : -1})
    if (other >= 0 && f.axis >= 0 && other != f.axis) f = forms.uniform(std::move(f), quantize, name);
  if (chain.axis >= 0 && q.per_axis() && chain.axis != q.axis)
    fail("{}: its per-axis grid along axis {} meets per-channel constants along axis {}", quantize.describe(), q.axis,
         chain.axis);
  const int axis = std::max(f.axis, chain.axis);
  const int out_axis = q.per_axis() ? q.axis : axis;
  const int64_t channels = out_axis < 0 ? 1 : f.x->type.shape[static_cast<size_t>(out_axis)];
  std::vector<int64_t> factor;
  std::vector<Exact> offset;
  for (int64_t c = 0; c < channels; ++c) {
    const Exact& a = AffineChain::at(chain.scale, c);
    const Exact step = sim::mul(a, AffineChain::at(f.unit, c));
    // A ratio M · 2^-n with a small odd M (a Mul by 0.375 = 3 · 2^-3): the integers are multiplied
    // by M, exactly, and the requantize shifts.
    const Exact out_scale = Exact::from_double(q.scales[q.per_axis() ? static_cast<size_t>(c) : 0]);
    const sim::BinaryParts ratio = sim::decompose(sim::div(step, out_scale).num);
    // Under --allow-non-pot a Q31 multiplier is the fallback, so only where the product surely
    // fits 32 bits (a quantized x of at most 16 bits); otherwise exactness is worth the try (the
    // range analysis refuses a product that could overflow).
    const bool exact_or_nothing = !options.allow_non_pot || (f.x->type.quant && f.x->type.quant->bits <= 16);
    const int64_t m = exact_or_nothing && ratio.odd > 1 && ratio.odd < (1 << 15) ? static_cast<int64_t>(ratio.odd) : 1;
    factor.push_back(step.negative() ? -m : m);
    offset.push_back(sim::add(AffineChain::at(chain.offset, c), sim::mul(a, AffineChain::at(f.offset, c))));
  }
  f = forms.widened(forms.scaled(std::move(f), factor, out_axis, quantize, name + "/scaled"), name + "/wide");
  chain.axis = out_axis;
  chain.offset = std::move(offset);
  return emit_requantize(g, {f.x, f.unit, f.axis}, chain, quantize, options, name);
}

// Average pooling of a quantized tensor straight to the quantize's grid: one integer pool that
// rounds its mean by the quantize's rule.
ir::Value* lower_avgpool(ir::Graph& g, const ir::Op& p, const AffineChain& chain, const ir::Op& quantize,
                         const PassOptions& options, const std::string& name) {
  ir::Value* x = dequantized(p.inputs[0], p, "input");
  const ir::QuantParams& xq = *x->type.quant;
  const ir::QuantParams& yq = *quantize.outputs[0]->type.quant;
  auto ratio = power_of_two_exponent(sim::div(Exact::from_double(xq.scales[0]), Exact::from_double(yq.scales[0])));
  auto attrs = p.attrs;
  attrs["round"] = quantize.get_string("round");
  if (ratio) {
    attrs["shift"] = int64_t{-*ratio};  // Σ·s_x/(count·s_y) = Σ/(count·2^shift)
    return g.add_op(ir::OpKind::avgpool, {x}, {{name, quantize.outputs[0]->type}}, attrs, p.name)->outputs[0];
  }
  if (!options.allow_non_pot)
    fail("{}: the ratio of its input and output scales is not a power of two (pass --allow-non-pot)", p.describe());
  // The mean on the input's own grid (rounded exactly), then a Q31 requantize: two roundings.
  attrs["shift"] = int64_t{0};
  ir::TensorType mean_type{ir::DType::i32, quantize.outputs[0]->type.shape,
                           ir::QuantParams{{xq.scales[0]}, {0}, -1, 32, true}};
  ir::Value* mean = g.add_op(ir::OpKind::avgpool, {x}, {{name + "/mean", mean_type}}, attrs, p.name)->outputs[0];
  return emit_requantize(g, {mean, {Exact::from_double(xq.scales[0])}, -1}, chain, quantize, options, name);
}

// Concatenation: each operand is requantized to the result's grid, then the quantized integers are
// joined (narrower than joining 32-bit integers and requantizing once; both are exact).
ir::Value* lower_concat(ir::Graph& g, IntegerForms& forms, const ir::Op& p, const AffineChain& chain,
                        const ir::Op& quantize, const PassOptions& options, const std::string& name) {
  std::vector<ir::Value*> parts;
  for (size_t i = 0; i < p.inputs.size(); ++i) {
    const std::string part = name + "/part" + std::to_string(i);
    parts.push_back(requantize_form(g, forms, forms.of(p.inputs[i], p, part), chain, quantize, options, part));
  }
  return g.add_op(ir::OpKind::concat, parts, {{name, quantize.outputs[0]->type}}, p.attrs, p.name)->outputs[0];
}

bool dequantizes(const ir::Value* v) { return v->producer && v->producer->kind == ir::OpKind::dequantize; }

ir::Value* lower_region(ir::Graph& g, IntegerForms& forms, const ir::Op& quantize, const AffineChain& chain,
                        const PassOptions& options, const std::string& name) {
  const ir::Op* p = chain.source->producer;
  if (!p) fail("{}: quantizes '{}' through float arithmetic, which has no integer form", quantize.describe(), chain.source->name);
  // A pool straight from one per-tensor grid to another rounds its own mean; anything else (a
  // per-axis grid on either side, arithmetic after it) reads the window sums as an integer form.
  const auto per_tensor = [](const ir::Value* v) { return v->type.quant && !v->type.quant->per_axis(); };
  if (p->kind == ir::OpKind::avgpool && chain.identity() && dequantizes(p->inputs[0]) &&
      per_tensor(p->inputs[0]->producer->inputs[0]) && per_tensor(quantize.outputs[0]))
    return lower_avgpool(g, *p, chain, quantize, options, name);
  if (p->kind == ir::OpKind::concat && chain.axis < 0 && !quantize.outputs[0]->type.quant->per_axis())
    return lower_concat(g, forms, *p, chain, quantize, options, name);
  return requantize_form(g, forms, forms.of(chain.source, quantize, name), chain, quantize, options, name);
}

// The integer form of a region; if it has none (a slope such as HardSigmoid's 0.2 leaves no exact
// shift) but the region is elementwise in one quantized tensor, its table, which is exact anyway.
ir::Value* lower_region_or_table(ir::Graph& g, IntegerForms& forms, const ir::Op& quantize, const PassOptions& options,
                                 const std::string& name) {
  try {
    return lower_region(g, forms, quantize, trace_affine_chain(g, quantize), options, name);
  } catch (const Error&) {
    std::optional<TableRegion> region;
    try {
      region = table_region(quantize, /*affine_too=*/true);
    } catch (const Error&) {
    }
    if (!region) throw;  // the integer form's reason
    return emit_lookup_table(g, *region, quantize, name);
  }
}

// Lists every tensor whose scale is not a power of two, in one line.
void refuse_non_pot(const ir::Graph& g) {
  std::vector<std::string> offenders;
  auto check = [&](const ir::Value* v) {
    if (v->type.quant && !v->type.quant->all_pot()) {
      const auto& s = v->type.quant->scales;
      offenders.push_back(fmt::format("'{}' ({}{})", v->name, ir::scale_text(s[0]), s.size() > 1 ? ", ..." : ""));
    }
  };
  for (const ir::Value* c : g.constants()) check(c);
  for (const ir::Op* op : g.ops()) check(op->outputs[0]);
  if (!offenders.empty())
    fail("scales that are not powers of two have no exact shift (pass --allow-non-pot to lower them with Q31 "
         "multipliers, without the exactness guarantee): {}",
         fmt::join(offenders, ", "));
}

bool is_boundary(const ir::Graph& g, const ir::Op& op) {
  if (op.kind == ir::OpKind::quantize) return !op.inputs[0]->producer && !op.inputs[0]->is_constant();
  if (op.kind == ir::OpKind::dequantize) return g.users(op.outputs[0]).empty() && g.is_output(op.outputs[0]);
  return false;
}

void require_integer_only(const ir::Graph& g) {
  // First a product QAT left unquantized (FX leaves a first layer whose input no qconfig covers in
  // float): named with its input, rather than as the weight's dequantize that feeds it.
  for (const ir::Op* op : g.ops())
    if ((op->kind == ir::OpKind::conv || op->kind == ir::OpKind::matmul) && ir::is_float(op->inputs[0]->type.dtype))
      fail("{}: its input '{}' is a float tensor no quantizer rounds, so the layer is not quantized and has no "
           "integer form (quantize its input in the QAT model)",
           op->describe(), op->inputs[0]->name);
  for (const ir::Op* op : g.ops()) {
    if (is_boundary(g, *op)) continue;
    for (const ir::Value* v : op->inputs)
      if (ir::is_float(v->type.dtype)) fail("{}: still computes in floating point after lowering", op->describe());
    if (ir::is_float(op->outputs[0]->type.dtype)) fail("{}: still computes in floating point after lowering", op->describe());
  }
}

}  // namespace

void lower_fake_quant(ir::Graph& g, const PassOptions& options) {
  if (!options.allow_non_pot) refuse_non_pot(g);
  IntegerForms forms(g, options);
  for (ir::Op* q : g.ops()) {
    if (q->kind != ir::OpKind::quantize || is_boundary(g, *q)) continue;
    ir::Value* old_result = q->outputs[0];
    const std::string name = old_result->name;
    ir::Value* result = nullptr;
    try {
      if (auto region = table_region(*q)) result = emit_lookup_table(g, *region, *q, name + "/lowered");
      else result = lower_region_or_table(g, forms, *q, options, name + "/lowered");
    } catch (const sim::NumericError& e) {
      // Constants whose exact products or sums need more than the exact arithmetic's 113 bits.
      fail("{}: its scales, weights and bias cannot be combined exactly: {}", q->describe(), e.what());
    }
    g.replace_all_uses(old_result, result);
    g.erase_op(q);
    g.rename(result, name);  // verify compares layers by these names
  }
  eliminate_dead_code(g, options);
  g.sort_topologically();
  require_integer_only(g);
}

}  // namespace qatc::passes
