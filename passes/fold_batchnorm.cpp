#include "passes/fold_batchnorm.h"

#include "passes/rewrite.h"
#include "sim/qat/conv_bn_pattern.h"
#include "sim/qat/exact.h"
#include "sim/qat/kernels.h"
#include "sim/qat/numeric_error.h"
#include "sim/qat/strided.h"

#include <algorithm>
#include <type_traits>

namespace qatc::passes {

namespace {

using sim::Exact;

// What replaces a batchnorm: y = x * scale + offset per channel, the offset exact.
struct ChannelAffine {
  ir::Value* x = nullptr;
  std::optional<std::vector<float>> scale;  // absent: y = x + offset (the conv-bn chain)
  std::vector<Exact> offset;
  std::vector<ir::Op*> chain;  // the div and the bias add of a conv-bn chain, erased with the batchnorm
};

// Element `ch` of a batchnorm parameter (shape [C]).
Exact parameter(const ir::Value& p, int64_t ch) { return Exact::from_double(p.data->float_at(ch)); }

// `k` as a sum of doubles: its nearest double, then the nearest double to what is left, and so on.
// Each remainder is at least 53 significant bits shorter, so an Exact (113 bits) takes at most 3.
std::vector<double> double_summands(Exact k) {
  std::vector<double> terms;
  while (k.num != 0) {
    // Sums and products of doubles have no denominator; a remainder below the smallest double
    // would round to 0 and never shrink.
    if (k.den != 1) throw sim::NumericError("the offset is not a dyadic number");
    const double term = k.approximate_double();
    if (term == 0) throw sim::NumericError("the offset needs bits below the smallest double");
    terms.push_back(term);
    k = sim::sub(k, Exact::from_double(term));
  }
  return terms;
}

std::vector<double> doubles(const ir::Value& p) {
  std::vector<double> d;
  for (int64_t i = 0; i < p.data->size(); ++i) d.push_back(p.data->float_at(i));
  return d;
}

// PyTorch's fused conv-bn chain ending in `bn` with divisor c (per channel, as the evaluator's
// batchnorm alpha): BN(x / c + b) = (x / c + b) * c + (beta - mean * c) = x + ((b - mean) * c + beta).
ChannelAffine fold_conv_bn_chain(ir::Op& bn, const std::vector<double>& c) {
  ChannelAffine fold;
  ir::Value* v = bn.inputs[0];
  const ir::Value* b = nullptr;  // the conv bias, when the chain has an add
  if (v->producer->kind == ir::OpKind::add) {
    ir::Op* add = v->producer;
    fold.chain.push_back(add);
    const bool first_is_bias = add->inputs[0]->is_constant();  // the matcher wants exactly one constant
    b = add->inputs[first_is_bias ? 0 : 1];
    v = add->inputs[first_is_bias ? 1 : 0];
  }
  ir::Op* div = v->producer;
  fold.chain.push_back(div);
  fold.x = div->inputs[0];
  const ir::Shape& shape = bn.inputs[0]->type.shape;
  const int64_t b_stride = b ? sim::broadcast_strides(b->type.shape, shape)[1] : 0;
  for (int64_t ch = 0; ch < shape[1]; ++ch) {
    const Exact bias_ch = b ? Exact::from_double(b->data->float_at(ch * b_stride)) : Exact{};
    const Exact k = sim::mul(sim::sub(bias_ch, parameter(*bn.inputs[3], ch)), Exact::from_double(c[ch]));
    fold.offset.push_back(sim::add(k, parameter(*bn.inputs[2], ch)));
  }
  return fold;
}

// Any other batchnorm, as the evaluator computes it: x * alpha + (beta - mean * alpha).
ChannelAffine fold_plain_batchnorm(ir::Op& bn, const std::vector<float>& alpha) {
  ChannelAffine fold;
  fold.x = bn.inputs[0];
  fold.scale = alpha;
  for (size_t ch = 0; ch < alpha.size(); ++ch) {
    const auto i = static_cast<int64_t>(ch);
    const Exact a = Exact::from_double(alpha[ch]);
    fold.offset.push_back(sim::sub(parameter(*bn.inputs[2], i), sim::mul(parameter(*bn.inputs[3], i), a)));
  }
  return fold;
}

// Builds  fold.x [-> mul(scale)] -> add(offset summands)...  in place of bn.
void rewrite(ir::Graph& g, ir::Op* bn, const ChannelAffine& fold) {
  // Computed before the graph changes: a NumericError leaves the batchnorm untouched.
  std::vector<std::vector<double>> summands;
  size_t terms = 1;  // a zero offset still gets its add: conv -> per-channel adds is the shape the lowering expects
  for (const Exact& k : fold.offset) {
    summands.push_back(double_summands(k));
    terms = std::max(terms, summands.back().size());
  }
  const ir::TensorType& type = bn->outputs[0]->type;
  const std::string& name = bn->outputs[0]->name;
  const auto channels = static_cast<int64_t>(fold.offset.size());
  ir::Shape channel_shape(type.shape.size(), 1);
  channel_shape[1] = channels;
  auto apply = [&](ir::OpKind kind, ir::Value* x, ir::TensorData constant, const std::string& role) {
    ir::Value* c = g.add_constant(g.unique_name(name + "." + role), std::move(constant));
    return g.add_op(kind, {x, c}, {{g.unique_name(name + ".folded"), type}}, {}, bn->name)->outputs[0];
  };
  ir::Value* y = fold.x;
  if (fold.scale) {
    // alpha is a float32, so exact in either float type; stored in the result's type for mul's type rule.
    ir::TensorData alpha(type.dtype, channel_shape);
    ir::visit_dtype(type.dtype, [&](auto t) {
      using T = decltype(t);
      if constexpr (std::is_floating_point_v<T>) std::copy(fold.scale->begin(), fold.scale->end(), alpha.as<T>().begin());
    });
    y = apply(ir::OpKind::mul, y, std::move(alpha), "alpha");
  }
  for (size_t j = 0; j < terms; ++j) {
    std::vector<double> term(channels, 0.0);
    for (int64_t ch = 0; ch < channels; ++ch)
      if (j < summands[ch].size()) term[ch] = summands[ch][j];
    y = apply(ir::OpKind::add, y, ir::TensorData::from<double>(channel_shape, term), "offset");
  }
  replace_op_result(g, bn, y);
  for (ir::Op* op : fold.chain) erase_if_unused(g, op);
}

}  // namespace

void fold_batchnorm(ir::Graph& g, const PassOptions&) {
  const sim::ConvBnFolds conv_bn_chains(g);
  for (ir::Op* bn : g.ops()) {
    if (bn->kind != ir::OpKind::batchnorm) continue;
    if (!std::all_of(bn->inputs.begin() + 1, bn->inputs.end(), [](const ir::Value* p) { return p->is_constant(); }))
      continue;
    const ir::Shape& shape = bn->inputs[0]->type.shape;
    const std::vector<float> alpha = sim::batchnorm_alpha_f32(*bn, doubles(*bn->inputs[1]), doubles(*bn->inputs[4]));
    // Exactly where the evaluator takes the chain's divisor as the batchnorm's alpha.
    std::optional<std::vector<double>> divisor;
    if (const ir::Value* c = conv_bn_chains.divisor_of(*bn)) divisor = sim::folded_alpha(*c, shape, alpha);
    try {
      rewrite(g, bn, divisor ? fold_conv_bn_chain(*bn, *divisor) : fold_plain_batchnorm(*bn, alpha));
    } catch (const sim::NumericError&) {
      // An offset beyond exact arithmetic (or a non-finite parameter): the evaluator could not
      // compute this batchnorm either. It stays.
    }
  }
  g.sort_topologically();
}

}  // namespace qatc::passes
