#include "passes/lower_fake_quant.h"

#include "ir/error.h"
#include "passes/affine_chain.h"
#include "passes/eliminate_dead_code.h"
#include "passes/quant_propagation.h"
#include "passes/requantize_builder.h"
#include "sim/qat/numeric_error.h"
#include "sim/qat/window.h"

#include <algorithm>

namespace qatc::passes {

using sim::Exact;

namespace {

// The quantized integer tensor behind `v = dequantize(q)`, or an Error naming `user`.
ir::Value* dequantized(const ir::Value* v, const ir::Op& user, std::string_view role) {
  if (!v->producer || v->producer->kind != ir::OpKind::dequantize)
    fail("{}: its {} '{}' is not a dequantized integer tensor, so it has no integer form", user.describe(), role, v->name);
  return v->producer->inputs[0];
}

std::vector<Exact> scales_of(const ir::QuantParams& q) {
  std::vector<Exact> s;
  for (double v : q.scales) s.push_back(Exact::from_double(v));
  return s;
}

int grid_exponent(const ir::QuantParams& q, const ir::Op& user) {
  auto e = q.pot_exponent(0);
  if (q.per_axis() || !e) fail("{}: aligning operands needs power-of-two per-tensor scales", user.describe());
  return -*e;  // value of one step is 2^-e: larger e is the finer grid
}

ir::Value* widen(ir::Graph& g, ir::Value* q, int shift, const std::string& name) {
  ir::TensorType t{ir::DType::i32, q->type.shape, std::nullopt};
  return g.add_op(ir::OpKind::widen, {q}, {{name, t}},
                  {{"shift", int64_t{shift}}, {"zero_point", q->type.quant->zero_points[0]}})->outputs[0];
}

// Weights with zero points other than 0 are stored zero-centred, in i16 if i8 cannot hold them.
ir::Value* zero_centred(ir::Graph& g, ir::Value* w, int axis) {
  const ir::QuantParams& q = *w->type.quant;
  if (std::all_of(q.zero_points.begin(), q.zero_points.end(), [](int64_t z) { return z == 0; })) return w;
  const ir::Shape& s = w->type.shape;
  int64_t inner = 1;
  for (size_t i = axis + 1; i < s.size(); ++i) inner *= s[i];
  std::vector<int64_t> v(w->data->size());
  int64_t lo = 0, hi = 0;
  for (int64_t i = 0; i < w->data->size(); ++i) {
    int64_t zp = q.per_axis() ? q.zero_points[(i / inner) % s[axis]] : q.zero_points[0];
    v[i] = w->data->int_at(i) - zp;
    lo = std::min(lo, v[i]);
    hi = std::max(hi, v[i]);
  }
  bool fits_i8 = lo >= -128 && hi <= 127;
  ir::TensorData data(fits_i8 ? ir::DType::i8 : ir::DType::i16, s);
  for (size_t i = 0; i < v.size(); ++i) {
    if (fits_i8) data.as<int8_t>()[i] = static_cast<int8_t>(v[i]);
    else data.as<int16_t>()[i] = static_cast<int16_t>(v[i]);
  }
  return g.add_constant(w->name + "/centred", std::move(data));
}

std::vector<Exact> bias_values(const ir::Value& v, const ir::Op& user) {
  auto values = exact_constant(v);
  if (!values) fail("{}: the bias '{}' must be a constant", user.describe(), v.name);
  return *values;
}

// Adds a per-channel constant (a conv's bias operand) to the chain's offset: y = A(t + b) + B.
void absorb_bias(AffineChain& chain, const std::vector<Exact>& bias, int axis, const ir::Op& user) {
  if (chain.axis >= 0 && chain.axis != axis) fail("{}: bias and folded constants disagree on the channel axis", user.describe());
  chain.axis = axis;
  std::vector<Exact> offset;
  for (size_t c = 0; c < bias.size(); ++c)
    offset.push_back(sim::add(AffineChain::at(chain.offset, c), sim::mul(AffineChain::at(chain.scale, c), bias[c])));
  chain.offset = std::move(offset);
}

// The integer operand of a product: real value (x − zero_point) · unit, elementwise.
struct ProductInput {
  ir::Value* x;
  int64_t zero_point;
  Exact unit;
};

// The one count every window of an average pool divides by, if all windows share it.
std::optional<int64_t> uniform_count(const ir::Op& pool) {
  const sim::Window win = sim::make_window(pool, pool.inputs[0]->type.shape, pool.get_ints("kernel_shape"));
  const bool include_pad = pool.get_int("count_include_pad") != 0;
  std::optional<int64_t> count;
  bool uniform = true;
  win.for_each_output([&](int64_t o0, int64_t o1, int64_t o2, int64_t) {
    const int64_t c = win.average_count(o0, o1, o2, include_pad);
    if (count && c != *count) uniform = false;
    count = c;
  });
  if (!uniform || !count || *count == 0) return std::nullopt;
  return count;
}

// A product's input: a dequantized integer tensor, or, where QAT left a pooled tensor unquantized
// (eager mode observes no AdaptiveAvgPool2d: GlobalAveragePool -> Flatten -> Gemm, Inception's
// AvgPool -> Conv), the integer window sums Σ(q − z) on the grid s / count: the mean of grid
// values is exactly that, and the count moves into the product's requantize divisor. Data movement
// (Flatten) on the way moves onto the integers.
ProductInput product_input(ir::Graph& g, ir::Value* v, const ir::Op& user) {
  const ir::Op* p = v->producer;
  if (p && (p->kind == ir::OpKind::reshape || p->kind == ir::OpKind::transpose || p->kind == ir::OpKind::slice)) {
    ProductInput in = product_input(g, p->inputs[0], user);
    ir::TensorType t{in.x->type.dtype, v->type.shape, std::nullopt};
    if (in.x->type.quant) t.quant = propagated_quant(*p, {in.x});
    if (in.x->type.quant && !t.quant) fail("{}: its input '{}' moves a per-axis grid's slices apart", user.describe(), v->name);
    in.x = g.add_op(p->kind, {in.x}, {{v->name + "/int", t}}, p->attrs, p->name)->outputs[0];
    return in;
  }
  if (p && p->kind == ir::OpKind::avgpool && ir::is_float(v->type.dtype)) {
    ir::Value* q = dequantized(p->inputs[0], *p, "input");
    const ir::QuantParams& qp = *q->type.quant;
    if (qp.per_axis()) fail("{}: average pooling of a per-axis quantized tensor is not supported", p->describe());
    auto count = uniform_count(*p);
    if (!count)
      fail("{}: its windows divide by different counts (padding not counted), so its unquantized mean cannot "
           "feed {}: quantize the pool's result",
           p->describe(), user.describe());
    ir::TensorType sums{ir::DType::i32, v->type.shape, std::nullopt};
    ir::Value* x = g.add_op(ir::OpKind::avgpool, {q}, {{v->name + "/sums", sums}}, p->attrs, p->name)->outputs[0];
    return {x, 0, sim::div(Exact::from_double(qp.scales[0]), Exact::from_int(*count))};
  }
  ir::Value* q = dequantized(v, user, "input");
  const ir::QuantParams& qp = *q->type.quant;
  if (qp.per_axis()) fail("{}: per-axis quantized activations are not supported", user.describe());
  return {q, qp.zero_points[0], Exact::from_double(qp.scales[0])};
}

// conv / matmul of a dequantized activation and dequantized integer weights.
ir::Value* lower_products(ir::Graph& g, const ir::Op& p, AffineChain chain, const ir::Op& quantize,
                          const PassOptions& options, const std::string& name) {
  const ProductInput x = product_input(g, p.inputs[0], p);
  ir::Value* w = dequantized(p.inputs[1], p, "weight");
  if (!w->is_constant()) fail("{}: the weight '{}' must be a constant to be lowered", p.describe(), w->name);
  const ir::QuantParams& wq = *w->type.quant;
  const bool is_conv = p.kind == ir::OpKind::conv;
  const int weight_axis = is_conv ? 0 : static_cast<int>(w->type.shape.size()) - 1;  // output channels
  const int out_axis = is_conv ? 1 : static_cast<int>(p.outputs[0]->type.shape.size()) - 1;
  if (wq.per_axis() && wq.axis != weight_axis)
    fail("{}: the weight is quantized per slice of axis {}, not per output channel", p.describe(), wq.axis);
  if (is_conv && p.inputs.size() == 3) absorb_bias(chain, bias_values(*p.inputs[2], p), out_axis, p);

  std::map<std::string, ir::AttrValue> attrs = p.attrs;
  if (x.zero_point != 0) attrs["x_zero_point"] = x.zero_point;
  ir::TensorType acc_type{ir::DType::i32, p.outputs[0]->type.shape, std::nullopt};
  ir::Value* acc = g.add_op(p.kind, {x.x, zero_centred(g, w, weight_axis)}, {{name + "/acc", acc_type}}, attrs, p.name)
                       ->outputs[0];
  Accumulator a{acc, {}, wq.per_axis() ? out_axis : -1};
  for (const Exact& sw : scales_of(wq)) a.unit.push_back(sim::mul(x.unit, sw));
  return emit_requantize(g, a, chain, quantize, options, name);
}

// a + b or a - b of two dequantized tensors: both move exactly onto the finer grid first.
ir::Value* lower_sum(ir::Graph& g, const ir::Op& p, const AffineChain& chain, const ir::Op& quantize,
                     const PassOptions& options, const std::string& name) {
  ir::Value* a = dequantized(p.inputs[0], p, "first operand");
  ir::Value* b = dequantized(p.inputs[1], p, "second operand");
  int ea = grid_exponent(*a->type.quant, p), eb = grid_exponent(*b->type.quant, p);
  int fine = std::max(ea, eb);
  ir::Value* wa = widen(g, a, fine - ea, name + "/lhs");
  ir::Value* wb = widen(g, b, fine - eb, name + "/rhs");
  ir::TensorType sum_type{ir::DType::i32, p.outputs[0]->type.shape, std::nullopt};
  ir::Value* sum = g.add_op(p.kind, {wa, wb}, {{name + "/sum", sum_type}}, {}, p.name)->outputs[0];
  return emit_requantize(g, {sum, {Exact::from_scaled(1, -fine)}, -1}, chain, quantize, options, name);
}

// A plain change of grid: quantize(A * dequantize(q) + B).
ir::Value* lower_rescale(ir::Graph& g, ir::Value* q, const AffineChain& chain, const ir::Op& quantize,
                         const PassOptions& options, const std::string& name) {
  const ir::QuantParams& qp = *q->type.quant;
  if (qp.per_axis() && std::any_of(qp.zero_points.begin(), qp.zero_points.end(), [&](int64_t z) { return z != qp.zero_points[0]; }))
    fail("{}: per-axis zero points are not supported here", quantize.describe());
  ir::TensorType t{ir::DType::i32, q->type.shape, std::nullopt};
  ir::Value* wide = g.add_op(ir::OpKind::widen, {q}, {{name + "/wide", t}},
                             {{"shift", int64_t{0}}, {"zero_point", qp.zero_points[0]}})->outputs[0];
  return emit_requantize(g, {wide, scales_of(qp), qp.per_axis() ? qp.axis : -1}, chain, quantize, options, name);
}

void require_identity(const AffineChain& chain, const ir::Op& p, const ir::Op& quantize) {
  if (!chain.identity())
    fail("{}: arithmetic or activations between it and {} are not supported", p.describe(), quantize.describe());
}

ir::Value* lower_avgpool(ir::Graph& g, const ir::Op& p, const AffineChain& chain, const ir::Op& quantize,
                         const PassOptions& options, const std::string& name) {
  require_identity(chain, p, quantize);
  ir::Value* x = dequantized(p.inputs[0], p, "input");
  const ir::QuantParams& xq = *x->type.quant;
  const ir::QuantParams& yq = *quantize.outputs[0]->type.quant;
  if (xq.per_axis() || yq.per_axis()) fail("{}: average pooling needs per-tensor scales", p.describe());
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

// Concatenation: each operand is requantized to the result's grid, then the integers are joined.
ir::Value* lower_concat(ir::Graph& g, const ir::Op& p, const AffineChain& chain, const ir::Op& quantize,
                        const PassOptions& options, const std::string& name) {
  require_identity(chain, p, quantize);
  std::vector<ir::Value*> parts;
  for (size_t i = 0; i < p.inputs.size(); ++i) {
    ir::Value* q = dequantized(p.inputs[i], p, "operand");
    parts.push_back(lower_rescale(g, q, chain, quantize, options, name + "/part" + std::to_string(i)));
  }
  return g.add_op(ir::OpKind::concat, parts, {{name, quantize.outputs[0]->type}}, p.attrs, p.name)->outputs[0];
}

ir::Value* lower_region(ir::Graph& g, const ir::Op& quantize, const AffineChain& chain, const PassOptions& options,
                        const std::string& name) {
  const ir::Op* p = chain.source->producer;
  if (!p) fail("{}: quantizes '{}' through float arithmetic, which has no integer form", quantize.describe(), chain.source->name);
  switch (p->kind) {
    case ir::OpKind::conv:
    case ir::OpKind::matmul: return lower_products(g, *p, chain, quantize, options, name);
    case ir::OpKind::add:
    case ir::OpKind::sub: return lower_sum(g, *p, chain, quantize, options, name);
    case ir::OpKind::dequantize: return lower_rescale(g, p->inputs[0], chain, quantize, options, name);
    case ir::OpKind::avgpool: return lower_avgpool(g, *p, chain, quantize, options, name);
    case ir::OpKind::concat: return lower_concat(g, *p, chain, quantize, options, name);
    default: fail("{}: has no integer form here (it feeds {})", p->describe(), quantize.describe());
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
  for (ir::Op* q : g.ops()) {
    if (q->kind != ir::OpKind::quantize || is_boundary(g, *q)) continue;
    ir::Value* old_result = q->outputs[0];
    const std::string name = old_result->name;
    ir::Value* result = nullptr;
    try {
      result = lower_region(g, *q, trace_affine_chain(g, *q), options, name + "/lowered");
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
