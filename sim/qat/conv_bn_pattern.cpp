#include "sim/qat/conv_bn_pattern.h"

#include "sim/qat/strided.h"

#include <cmath>

namespace qatc::sim {

namespace {

constexpr double kAlphaUlps = 4;

// Whether constant `c` broadcast against `shape` (rank >= 2, channels on axis 1) varies only along
// the channel axis.
bool is_per_channel_constant(const ir::Value* c, const ir::Shape& shape) {
  if (!c->is_constant() || c->type.shape.size() > shape.size()) return false;
  const size_t lead = shape.size() - c->type.shape.size();
  for (size_t d = 0; d < c->type.shape.size(); ++d)
    if (c->type.shape[d] != 1 && lead + d != 1) return false;
  return true;
}

// Uses of each value by ops (graph outputs are not uses: the chain computes the same either way).
std::unordered_map<const ir::Value*, int> use_counts(const ir::Graph& g) {
  std::unordered_map<const ir::Value*, int> uses;
  for (const ir::Op* op : g.ops())
    for (const ir::Value* in : op->inputs) ++uses[in];
  return uses;
}

}  // namespace

ConvBnFolds::ConvBnFolds(const ir::Graph& g) {
  const auto uses = use_counts(g);
  auto sole_use = [&](const ir::Value* v) { return uses.at(v) == 1; };
  for (const ir::Op* bn : g.ops()) {
    if (bn->kind != ir::OpKind::batchnorm) continue;
    const ir::Shape& shape = bn->inputs[0]->type.shape;
    ConvBnChain chain;
    const ir::Value* v = bn->inputs[0];
    const ir::Op* producer = v->producer;
    if (producer && producer->kind == ir::OpKind::add && sole_use(v)) {
      // Step over the bias add: one operand a per-channel constant, the other the div's result.
      const ir::Value* a = producer->inputs[0];
      const ir::Value* b = producer->inputs[1];
      if (is_per_channel_constant(a, shape)) std::swap(a, b);
      if (!is_per_channel_constant(b, shape) || a->is_constant()) continue;
      chain.add = producer;
      chain.bias = b;
      v = a;
      producer = v->producer;
    }
    if (!producer || producer->kind != ir::OpKind::div || !sole_use(v)) continue;
    const ir::Value* c = producer->inputs[1];
    if (producer->inputs[0]->type.shape != shape || !is_per_channel_constant(c, shape)) continue;
    chain.div = producer;
    chain.divisor = c;
    chains_[bn] = chain;
  }
}

const ConvBnChain* ConvBnFolds::chain_of(const ir::Op& bn) const {
  auto it = chains_.find(&bn);
  return it == chains_.end() ? nullptr : &it->second;
}

const ir::Value* ConvBnFolds::divisor_of(const ir::Op& bn) const {
  const ConvBnChain* chain = chain_of(bn);
  return chain ? chain->divisor : nullptr;
}

std::vector<double> per_channel_values(const ir::Value& c, const ir::Shape& shape) {
  const ir::Shape& cs = c.type.shape;
  const size_t lead = shape.size() - cs.size();
  // Offset of channel ch in c: c's stride along the channel axis, 0 when c is broadcast along it.
  int64_t channel_stride = 0;
  if (lead <= 1 && cs.size() > 1 - lead && cs[1 - lead] != 1) channel_stride = strides_of(cs)[1 - lead];
  std::vector<double> v(static_cast<size_t>(shape[1]));
  for (size_t ch = 0; ch < v.size(); ++ch) v[ch] = c.data->float_at(static_cast<int64_t>(ch) * channel_stride);
  return v;
}

std::optional<std::vector<double>> folded_alpha(const ir::Value& divisor, const ir::Shape& shape,
                                                const std::vector<float>& alpha_f32) {
  std::vector<double> c = per_channel_values(divisor, shape);
  if (c.size() != alpha_f32.size()) return std::nullopt;
  for (size_t ch = 0; ch < c.size(); ++ch) {
    if (c[ch] == 0 || !std::isfinite(c[ch])) return std::nullopt;
    const double ulp = std::ldexp(1.0, std::ilogb(c[ch]) - 23);  // of float32 numbers near c
    if (std::fabs(static_cast<double>(alpha_f32[ch]) - c[ch]) > kAlphaUlps * ulp) return std::nullopt;
  }
  return c;
}

}  // namespace qatc::sim
