// TI edgeai-torchmodelopt v1 (QuantTrainModule, PACT2): the export is a float graph whose
// quantization points are power-of-two Clips; TI's QAT quantization is re-derived here on the IR
// (REFERENCE.md 1.4), so that the graph then holds explicit fake-quant like any other dialect:
//   - each Clip [0, c] or [-c, c] (c a power of two) becomes quantize + dequantize with step
//     c / 2^8 (unsigned) or c / 2^7 (signed), rounding half up (PACT2's floor(x·scale + 0.5));
//   - a BatchNormalization after a conv is merged into it as TI merges, in float32;
//   - each conv/matmul weight is quantized on the grid ceil2(max|w|) / 128 (per tensor, or per
//     output channel where asked), rounding half away from zero (TI's round_sym), clamped to
//     [-128, 127];
//   - each bias is put on its own 8-bit power-of-two grid, then (TI's default rule) on the joint
//     grid J = input_scale · weight_scale with TI's 15-bit saturation rule (part · qmax / J).
// TI quantizes a layer only where a PACT2 reads its output, and its input only where it comes from
// one: a layer missing either is refused naming it, unless the user gives the tensor a range.
#pragma once

#include "ir/graph.h"

#include <map>
#include <string>
#include <utility>

namespace qatc::frontend {

// QuantTrainModule's arguments that the export does not record: the user repeats them.
struct TiPact2Options {
  // per_channel_q: False (none), True (depthwise convs), 'all'.
  enum class PerChannel { none, depthwise, all };
  // constrain_bias: CONSTRAIN_BIAS_TYPE_SATURATE (TI's default), _NONE, _REDUCE_WEIGHT_SCALE.
  enum class BiasRule { saturate, none, reduce_weight_scale };
  PerChannel per_channel = PerChannel::none;
  BiasRule bias = BiasRule::saturate;
  // Tensor name -> [lo, hi]: a PACT2 quantization point the user adds where the export has none
  // (for example after a global average pool, whose output TI leaves in float).
  std::map<std::string, std::pair<double, double>> ranges;

  bool is_default() const { return per_channel == PerChannel::none && bias == BiasRule::saturate && ranges.empty(); }
};

// Whether a float graph looks like a PACT2 export: every graph input is read by a Clip with
// power-of-two bounds, and it has a conv or matmul.
bool looks_like_ti_pact2(const ir::Graph& g);

// Applies TI's quantization; throws Error naming the node or tensor for a Clip whose bounds are
// not a power-of-two range, a layer TI would leave unquantized, or options TI cannot run.
void apply_ti_pact2(ir::Graph& g, const TiPact2Options& options);

}  // namespace qatc::frontend
