#include "driver/layer_stats.h"

#include "driver/layer_diff.h"

#include "ir/quant.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

namespace qatc::driver {

void Histogram::add(double v) {
  if (v < lo) {
    ++below;
  } else if (v >= hi) {
    ++above;
  } else {
    auto bin = static_cast<size_t>((v - lo) / bin_width());
    ++counts[std::min(bin, counts.size() - 1)];
  }
}

int64_t Histogram::total() const {
  int64_t n = below + above;
  for (int64_t c : counts) n += c;
  return n;
}

int bits_for_range(int64_t lo, int64_t hi, bool is_signed) {
  if (!is_signed) return std::max(1, static_cast<int>(std::bit_width(static_cast<uint64_t>(std::max<int64_t>(hi, 0)))));
  // b bits hold [-2^(b-1), 2^(b-1) - 1]: one sign bit plus the magnitude of hi or of -(lo + 1).
  const int64_t magnitude = std::max<int64_t>({hi, -(lo + 1), 0});
  return 1 + static_cast<int>(std::bit_width(static_cast<uint64_t>(magnitude)));
}

namespace {

std::string shift_text(const ir::Op& op) {
  if (op.kind == ir::OpKind::avgpool) return fmt::format("{} (÷ count · 2^n)", op.get_int("shift"));
  if (op.kind != ir::OpKind::requantize) return "";
  const auto& s = op.get_ints("shift");
  const auto [lo, hi] = std::minmax_element(s.begin(), s.end());
  std::string text = *lo == *hi ? fmt::format("{}", *lo) : fmt::format("{}..{} per channel", *lo, *hi);
  return op.has("multiplier") ? text + " with Q31 multipliers" : text;
}

LayerStats describe(const ir::Value& v) {
  const ir::Op& op = *v.producer;
  const ir::QuantParams& q = *v.type.quant;
  LayerStats s;
  s.name = v.name;
  s.op = std::string(op.info().name);
  s.source = op.name;
  s.storage = ir::storage_text(q);
  s.qmin = q.qmin();
  s.qmax = q.qmax();
  s.clamp_lo = op.kind == ir::OpKind::requantize ? op.get_int("min") : q.qmin();
  s.clamp_hi = op.kind == ir::OpKind::requantize ? op.get_int("max") : q.qmax();
  s.shift = shift_text(op);
  s.rounding = op.has("round") ? op.get_string("round") : "";
  s.scale = q.per_axis() ? "per channel" : ir::scale_text(q.scales[0]);
  s.zero_point = q.zero_points[0];
  s.min = std::numeric_limits<int64_t>::max();
  s.max = std::numeric_limits<int64_t>::min();
  const int64_t range = s.qmax - s.qmin + 1, bins = std::min<int64_t>(range, 256), per_bin = (range + bins - 1) / bins;
  s.values = Histogram(static_cast<double>(s.qmin), static_cast<double>(s.qmin + per_bin * bins),
                       static_cast<size_t>(bins));
  const double half_bin = 0.5 / kErrorBinsPerLsb;
  s.error = Histogram(-kErrorSpan - half_bin, kErrorSpan + half_bin, static_cast<size_t>(2 * kErrorSpan * kErrorBinsPerLsb) + 1);
  if (op.kind == ir::OpKind::requantize) s.acc_bits = static_cast<int>(ir::byte_size(op.inputs[0]->type.dtype) * 8);
  return s;
}

const ir::TensorData* find(const Trace& t, const std::string& name) {
  auto it = t.find(name);
  return it == t.end() ? nullptr : &it->second;
}

}  // namespace

LayerStatsCollector::LayerStatsCollector(const ir::Graph& lowered, const ir::Graph& qat) {
  for (const ir::Op* op : lowered.ops()) {
    const ir::Value* v = op->outputs[0];
    if (!v->type.quant || ir::is_float(v->type.dtype)) continue;
    Row row{v, nullptr, nullptr};
    // Per-channel results have no one step to compare in (the lowering makes none; an input may be).
    const bool per_tensor = !v->type.quant->per_axis();
    // The lowering keeps the QAT graph's names: a quantize's result keeps its name, and an op moved
    // onto the integers computes "<float tensor>.q", the grid integers of that float tensor.
    const ir::Value* same = qat.find_value(v->name);
    if (const ir::Op* quantize = same ? layer_quantize(*same) : nullptr; per_tensor && quantize)
      row.qat_quantize = quantize;
    else if (per_tensor && v->name.ends_with(".q"))
      if (const ir::Value* grid = qat.find_value(v->name.substr(0, v->name.size() - 2)); grid &&
                                                                                         ir::is_float(grid->type.dtype))
        row.qat_on_grid = grid;
    rows_.push_back(row);
    layers_.push_back(describe(*v));
    layers_.back().has_reference = row.qat_quantize || row.qat_on_grid;
  }
}

void LayerStatsCollector::add(const Trace& ints, const Trace& exact, const Trace& float32) {
  for (size_t r = 0; r < rows_.size(); ++r) {
    const Row& row = rows_[r];
    LayerStats& s = layers_[r];
    const ir::TensorData* q = find(ints, row.value->name);
    if (!q) continue;
    const ir::QuantParams& qp = *row.value->type.quant;
    const double step = qp.per_axis() ? 0 : qp.scales[0];
    const int64_t zp = qp.zero_points[0];

    // The QAT side (rows with one are per tensor): its integers, exact and float32, and its values
    // before they rounded; a tensor on the grid is both.
    auto lookup = [&](const Trace& t, const ir::Value* v) -> const ir::TensorData* {
      const ir::TensorData* d = v ? find(t, v->name) : nullptr;
      return d && d->size() == q->size() ? d : nullptr;
    };
    const ir::Value* result = row.qat_quantize ? row.value : row.qat_on_grid;
    const ir::Value* before = row.qat_quantize ? row.qat_quantize->inputs[0] : row.qat_on_grid;
    const ir::TensorData *ref_exact = lookup(exact, result), *ref_f32 = lookup(float32, result);
    const ir::TensorData *before_exact = lookup(exact, before), *before_f32 = lookup(float32, before);
    // A QAT integer tensor compares integer to integer; a QAT float tensor on the grid compares
    // its real value.
    auto differs = [&](const ir::TensorData& ref, int64_t i, int64_t value) {
      return ir::is_float(ref.dtype()) ? static_cast<double>(value - zp) * step != ref.float_at(i)
                                       : ref.int_at(i) != value;
    };

    s.elements += q->size();
    if (const ir::TensorData* a = s.acc_bits ? find(ints, row.value->producer->inputs[0]->name) : nullptr) {
      for (int64_t i = 0; i < a->size(); ++i) {
        const int64_t v = a->int_at(i);
        s.acc_min = s.acc_elements + i == 0 ? v : std::min(s.acc_min, v);
        s.acc_max = s.acc_elements + i == 0 ? v : std::max(s.acc_max, v);
      }
      s.acc_elements += a->size();
    }
    for (int64_t i = 0; i < q->size(); ++i) {
      const int64_t value = q->int_at(i);
      s.min = std::min(s.min, value);
      s.max = std::max(s.max, value);
      s.values.add(static_cast<double>(value));
      if (ref_exact && differs(*ref_exact, i, value)) ++s.exact_mismatches;
      if (ref_f32 && differs(*ref_f32, i, value)) ++s.float32_mismatches;
      if (before_f32) s.error.add(static_cast<double>(value - zp) - before_f32->float_at(i) / step);
      if (before_exact && row.qat_quantize) {
        const double level = before_exact->float_at(i) / step + static_cast<double>(zp);
        s.clipped += level < static_cast<double>(s.qmin) - 0.5 || level > static_cast<double>(s.qmax) + 0.5;
      }
    }
  }
}

}  // namespace qatc::driver
