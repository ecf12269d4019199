#include "passes/affine_chain.h"

#include "ir/error.h"
#include "sim/qat/strided.h"

#include <algorithm>

namespace qatc::passes {

using sim::Exact;

namespace {

const Exact kOne = Exact::from_int(1);
const Exact kZero = Exact::from_int(0);

}  // namespace

int varying_axis(const ir::Op& op, const ir::Value& k, const ir::Value& t) {
  const ir::Shape& ks = k.type.shape;
  const ir::Shape& ts = t.type.shape;
  if (ks.size() > ts.size()) fail("{}: constant '{}' has a higher rank than its operand", op.describe(), k.name);
  int axis = -1;
  for (size_t i = 0; i < ks.size(); ++i) {
    size_t ti = ts.size() - ks.size() + i;
    if (ks[i] == 1) continue;
    if (ks[i] != ts[ti] || axis >= 0)
      fail("{}: constant '{}' must be a scalar or vary along one axis of '{}'", op.describe(), k.name, t.name);
    axis = static_cast<int>(ti);
  }
  return axis;
}

namespace {

// The single non-constant operand of a binary op with one constant, and the constant.
std::optional<std::pair<ir::Value*, ir::Value*>> split_constant(const ir::Op& op) {
  if (op.inputs.size() != 2) return std::nullopt;
  ir::Value* a = op.inputs[0];
  ir::Value* b = op.inputs[1];
  auto constant = [](const ir::Value* v) { return exact_constant(*v).has_value(); };
  if (constant(b) && !constant(a)) return std::pair{a, b};
  if (constant(a) && !constant(b) && (op.kind == ir::OpKind::add || op.kind == ir::OpKind::mul))
    return std::pair{b, a};  // commutative
  return std::nullopt;
}

}  // namespace

bool AffineChain::identity() const {
  for (const auto& a : scale)
    if (sim::compare(a, kOne) != 0) return false;
  for (const auto& b : offset)
    if (sim::compare(b, kZero) != 0) return false;
  return !lo && !hi;
}

AffineChain trace_affine_chain(const ir::Graph& g, const ir::Op& quantize) {
  AffineChain chain;  // the identity
  ir::Value* t = quantize.inputs[0];
  bool arithmetic_seen = false;  // between t and y, nearer y than the op being looked at
  while (t->producer && g.users(t).size() == 1 && !g.is_output(t)) {
    ir::Op& op = *t->producer;
    ir::Value* next = nullptr;
    if (op.kind == ir::OpKind::relu || op.kind == ir::OpKind::clip) {
      // Bounds on y only while nothing between: an activation before arithmetic is part of the
      // region below the chain (integer-form clips it on the integers).
      if (arithmetic_seen) break;
      auto tighten = [](std::optional<Exact>& bound, const Exact& v, bool upper) {
        if (!bound || (upper ? sim::compare(v, *bound) < 0 : sim::compare(v, *bound) > 0)) bound = v;
      };
      if (op.kind == ir::OpKind::relu) tighten(chain.lo, kZero, false);
      if (op.has("min")) tighten(chain.lo, Exact::from_double(op.get_float("min")), false);
      if (op.has("max")) tighten(chain.hi, Exact::from_double(op.get_float("max")), true);
      next = op.inputs[0];
    } else if (auto parts = split_constant(op); parts && (op.kind == ir::OpKind::add || op.kind == ir::OpKind::sub ||
                                                        op.kind == ir::OpKind::mul || op.kind == ir::OpKind::div)) {
      auto [u, k] = *parts;
      int axis = varying_axis(op, *k, *u);
      if (axis >= 0 && chain.axis >= 0 && axis != chain.axis)
        fail("{}: per-channel constants along axes {} and {} in one chain", op.describe(), chain.axis, axis);
      if (axis >= 0) chain.axis = axis;
      std::vector<Exact> kv = *exact_constant(*k);
      // y = A (t) + B with t = u op k, so y = A' u + B'.
      size_t channels = std::max({chain.scale.size(), chain.offset.size(), kv.size()});
      std::vector<Exact> scale(channels), offset(channels);
      for (size_t c = 0; c < channels; ++c) {
        const Exact& a = AffineChain::at(chain.scale, c);
        const Exact& b = AffineChain::at(chain.offset, c);
        const Exact& kc = kv.size() == 1 ? kv[0] : kv[c];
        bool additive = op.kind == ir::OpKind::add || op.kind == ir::OpKind::sub;
        if (additive) {
          scale[c] = a;
          offset[c] = op.kind == ir::OpKind::add ? sim::add(b, sim::mul(a, kc)) : sim::sub(b, sim::mul(a, kc));
        } else {
          scale[c] = op.kind == ir::OpKind::mul ? sim::mul(a, kc) : sim::div(a, kc);
          offset[c] = b;
        }
      }
      chain.scale = std::move(scale);
      chain.offset = std::move(offset);
      arithmetic_seen = true;
      next = u;
    } else {
      break;
    }
    chain.ops.push_back(&op);
    t = next;
  }
  chain.source = t;
  return chain;
}

std::optional<std::vector<Exact>> exact_constant(const ir::Value& v) {
  std::vector<Exact> out;
  if (v.is_constant() && ir::is_float(v.type.dtype)) {
    for (int64_t i = 0; i < v.data->size(); ++i) out.push_back(Exact::from_double(v.data->float_at(i)));
    return out;
  }
  const ir::Op* p = v.producer;
  if (!p || p->kind != ir::OpKind::dequantize || !p->inputs[0]->is_constant()) return std::nullopt;
  const ir::Value& q = *p->inputs[0];
  const ir::QuantParams& qp = *q.type.quant;
  sim::AxisCounter channel = qp.per_axis() ? sim::AxisCounter(q.type.shape, static_cast<size_t>(qp.axis)) : sim::AxisCounter();
  for (int64_t i = 0; i < q.data->size(); ++i, channel.next()) {
    const auto c = static_cast<size_t>(channel.index());
    out.push_back(sim::mul(Exact::from_int(q.data->int_at(i) - qp.zero_points[c]), Exact::from_double(qp.scales[c])));
  }
  return out;
}

FloorAndFraction floor_and_fraction(const Exact& v) {
  sim::ExactQuotient q = sim::divide_for_rounding(v, 1.0);
  if (q.magnitude >= sim::kSaturatedMagnitude) fail("a bias of magnitude 2^62 or more cannot be represented");
  auto cls = [](int vs_half) { return vs_half < 0 ? 1 : vs_half == 0 ? 2 : 3; };
  if (!q.fraction.nonzero) return {q.negative ? -q.magnitude : q.magnitude, 0};
  if (!q.negative) return {q.magnitude, cls(q.fraction.vs_half)};
  // -(m + f) = -(m + 1) + (1 - f): the fraction's side of 1/2 flips.
  return {-q.magnitude - 1, cls(-q.fraction.vs_half)};
}

std::optional<int> power_of_two_exponent(const Exact& v) {
  if (v.den != 1 || v.negative()) return std::nullopt;
  sim::BinaryParts p = sim::decompose(v.num);
  if (p.odd != 1) return std::nullopt;
  return p.exp;
}

}  // namespace qatc::passes
