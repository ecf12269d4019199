#include "passes/check_accumulator_ranges.h"

#include "ir/error.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace qatc::passes {

namespace {

using i128 = __int128;

struct Range {
  i128 lo = 0, hi = 0;
};

Range type_range(const ir::TensorType& t) {
  if (t.quant) return {t.quant->qmin(), t.quant->qmax()};
  return {ir::int_min(t.dtype), ir::int_max(t.dtype)};
}

Range data_range(const ir::TensorData& d) {
  Range r{d.size() ? d.int_at(0) : 0, d.size() ? d.int_at(0) : 0};
  for (int64_t i = 1; i < d.size(); ++i) {
    r.lo = std::min<i128>(r.lo, d.int_at(i));
    r.hi = std::max<i128>(r.hi, d.int_at(i));
  }
  return r;
}

double log2_magnitude(i128 v) { return std::log2(std::fabs(static_cast<double>(v))); }

void require_fits(const ir::Op& op, const Range& r, ir::DType t, const std::string& what) {
  if (r.lo >= ir::int_min(t) && r.hi <= ir::int_max(t)) return;
  i128 worst = std::max(-r.lo, r.hi);
  fail("{}: {} can reach 2^{:.2f} ([{}, {}]), beyond {}; qatc never lets it wrap", op.describe(), what,
       log2_magnitude(worst), static_cast<double>(r.lo), static_cast<double>(r.hi), ir::dtype_name(t));
}

// Σ (x − zx)·w per output channel: each product's extremes come from the extremes a <= b of
// x − zx, b for a positive weight's maximum and a for a negative one's, so a channel's range is
// that of P·[a, b] + N·[a, b] with P and N the sums of its positive and of its negative weights.
std::vector<Range> product_ranges(const ir::Op& op, const Range& x) {
  const ir::Value& w = *op.inputs[1];
  if (!w.is_constant()) fail("{}: integer weights must be constants for the range analysis", op.describe());
  const i128 zx = op.has("x_zero_point") ? op.get_int("x_zero_point") : 0;
  const i128 a = x.lo - zx, b = x.hi - zx;
  const ir::Shape& ws = w.type.shape;
  const bool is_conv = op.kind == ir::OpKind::conv;
  const int64_t channels = is_conv ? ws[0] : ws.back(), per_channel = w.data->size() / std::max<int64_t>(channels, 1);
  std::vector<i128> positive(static_cast<size_t>(channels)), negative(static_cast<size_t>(channels));
  // conv weights: [C_out][...], a channel's weights adjacent; matmul weights: [..., N], interleaved.
  for (int64_t i = 0, c = 0, left = per_channel; i < w.data->size(); ++i) {
    if (!is_conv) c = i % channels;
    const int64_t wv = w.data->int_at(i);
    (wv > 0 ? positive : negative)[static_cast<size_t>(c)] += wv;
    if (is_conv && --left == 0) left = per_channel, ++c;
  }
  std::vector<Range> r(static_cast<size_t>(channels));
  for (size_t c = 0; c < r.size(); ++c)
    r[c] = {positive[c] * a + negative[c] * b, positive[c] * b + negative[c] * a};
  return r;
}

bool fits(const Range& r, ir::DType t) { return r.lo >= ir::int_min(t) && r.hi <= ir::int_max(t); }

// An integer constant's data converted exactly to `t` (the values fit: they fit a narrower type).
ir::Value* converted(ir::Graph& g, const ir::Value& c, ir::DType t) {
  ir::TensorData d(t, c.type.shape);
  for (int64_t i = 0; i < d.size(); ++i) d.as<int64_t>()[static_cast<size_t>(i)] = c.data->int_at(i);
  return g.add_constant(g.unique_name(c.name + ".i64"), std::move(d), c.type.quant);
}

// Whether a product's accumulator needs 64 bits: some channel, with the bias of the requantize
// that reads it, leaves int32. If so, and its readers are requantizes, it is widened to i64 with
// their biases (and the product's own bias); the checks below then hold it to int64.
void widen_if_needed(ir::Graph& g, ir::Op& op, const std::vector<Range>& channels) {
  ir::Value* out = op.outputs[0];
  if (out->type.dtype != ir::DType::i32) return;
  bool needed = false;
  for (const Range& r : channels) needed |= !fits(r, ir::DType::i32);
  const std::vector<ir::Op*> users = g.users(out);
  for (const ir::Op* u : users) {
    if (u->kind != ir::OpKind::requantize || u->inputs[0] != out) return;  // only requantizes read 64-bit sums
    if (u->inputs.size() == 2 && u->inputs[1]->data->size() == static_cast<int64_t>(channels.size()))
      for (size_t c = 0; c < channels.size(); ++c) {
        const i128 b = u->inputs[1]->data->int_at(static_cast<int64_t>(c));
        needed |= !fits({channels[c].lo + b, channels[c].hi + b}, ir::DType::i32);
      }
  }
  if (!needed || g.is_output(out)) return;
  out->type.dtype = ir::DType::i64;
  if (op.inputs.size() > 2) op.inputs[2] = converted(g, *op.inputs[2], ir::DType::i64);
  for (ir::Op* u : users)
    if (u->inputs.size() == 2) u->inputs[1] = converted(g, *u->inputs[1], ir::DType::i64);
}

Range hull(const std::vector<Range>& rs) {
  Range h = rs.at(0);
  for (const Range& r : rs) h = {std::min(h.lo, r.lo), std::max(h.hi, r.hi)};
  return h;
}

}  // namespace

void check_accumulator_ranges(ir::Graph& g, const PassOptions&) {
  bool widened = false;
  std::unordered_map<const ir::Value*, Range> range;
  std::unordered_map<const ir::Value*, std::vector<Range>> per_channel;  // conv/matmul results
  auto of = [&](const ir::Value* v) -> Range {
    if (auto it = range.find(v); it != range.end()) return it->second;
    return v->is_constant() && ir::is_integer(v->type.dtype) ? data_range(*v->data) : type_range(v->type);
  };
  for (ir::Op* op : g.ops()) {
    const ir::Value* out = op->outputs[0];
    if (ir::is_float(out->type.dtype)) continue;
    const ir::DType t = out->type.dtype;
    Range r = type_range(out->type);
    switch (op->kind) {
      case ir::OpKind::conv:
      case ir::OpKind::matmul: {
        if (ir::is_float(op->inputs[0]->type.dtype)) break;
        auto channels = product_ranges(*op, of(op->inputs[0]));
        widen_if_needed(g, *op, channels);
        widened |= out->type.dtype == ir::DType::i64;
        for (size_t c = 0; c < channels.size(); ++c)
          require_fits(*op, channels[c], out->type.dtype, "the accumulator of output channel " + std::to_string(c));
        r = hull(channels);
        per_channel[out] = std::move(channels);
        break;
      }
      case ir::OpKind::requantize:
        if (op->inputs.size() == 2) {
          // acc + bias per channel, in the accumulator's type.
          const ir::Value* acc = op->inputs[0];
          const ir::TensorData& bias = *op->inputs[1]->data;
          auto pc = per_channel.find(acc);
          for (int64_t c = 0; c < bias.size(); ++c) {
            Range a = pc != per_channel.end() && pc->second.size() == static_cast<size_t>(bias.size()) ? pc->second[c]
                                                                                                    : of(acc);
            require_fits(*op, {a.lo + bias.int_at(c), a.hi + bias.int_at(c)}, acc->type.dtype,
                         "the biased accumulator of channel " + std::to_string(c));
          }
        }
        r = {op->get_int("min"), op->get_int("max")};
        break;
      case ir::OpKind::widen: {
        Range x = of(op->inputs[0]);
        i128 z = op->get_int("zero_point"), scale = i128{1} << op->get_int("shift");
        r = {(x.lo - z) * scale, (x.hi - z) * scale};
        require_fits(*op, r, t, "the widened value");
        break;
      }
      case ir::OpKind::lut:  // the table's own values
        r = data_range(*op->inputs[1]->data);
        break;
      case ir::OpKind::add:
      case ir::OpKind::sub: {
        Range a = of(op->inputs[0]), b = of(op->inputs[1]);
        r = op->kind == ir::OpKind::add ? Range{a.lo + b.lo, a.hi + b.hi} : Range{a.lo - b.hi, a.hi - b.lo};
        require_fits(*op, r, t, "the sum");
        break;
      }
      case ir::OpKind::mul: {  // by a constant factor that aligns grids (lower-fake-quant)
        Range a = of(op->inputs[0]), b = of(op->inputs[1]);
        const i128 p[] = {a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi};
        r = {*std::min_element(p, p + 4), *std::max_element(p, p + 4)};
        require_fits(*op, r, t, "the product");
        break;
      }
      case ir::OpKind::clip: {
        Range x = of(op->inputs[0]);
        if (op->has("min")) x = {std::max<i128>(x.lo, static_cast<i128>(std::ceil(std::max(op->get_float("min"), -1e30)))), x.hi};
        if (op->has("max")) x = {x.lo, std::min<i128>(x.hi, static_cast<i128>(std::floor(std::min(op->get_float("max"), 1e30))))};
        if (x.lo <= x.hi) r = x;
        break;
      }
      case ir::OpKind::concat: {
        std::vector<Range> parts;
        for (const ir::Value* v : op->inputs) parts.push_back(of(v));
        r = hull(parts);
        break;
      }
      case ir::OpKind::avgpool: {
        // The window sum Σ(x − zx) is held in 32 bits before the rounded division.
        Range x = of(op->inputs[0]);
        i128 z = op->inputs[0]->type.quant ? op->inputs[0]->type.quant->zero_points[0] : 0, n = 1;
        for (int64_t k : op->get_ints("kernel_shape")) n *= k;
        const Range sum{n * std::min<i128>(x.lo - z, 0), n * std::max<i128>(x.hi - z, 0)};
        require_fits(*op, sum, ir::DType::i32, "the window sum");
        if (!out->type.quant) r = sum;  // the sums themselves are the result
        break;
      }
      case ir::OpKind::maxpool:
      case ir::OpKind::reshape:
      case ir::OpKind::transpose:
      case ir::OpKind::slice:
      case ir::OpKind::resize:
        r = of(op->inputs[0]);
        break;
      default: break;  // quantize, pad: their result type's range bounds them
    }
    range[out] = r;
  }
  if (widened) g.erase_unused_values();  // the 32-bit biases that were replaced
}

}  // namespace qatc::passes
