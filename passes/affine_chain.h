// What a quantize op computes, read backwards from it: y = A_c * t + B_c per channel c, then
// clamped to [lo, hi] by the ReLU/Clip that end the chain, then quantized. `t` is the value where
// the chain starts (the result of a conv, matmul, add, avgpool, concat or dequantize), reached
// through ops that each apply a constant: add, sub, mul and div by a scalar or per-channel
// constant. This is the shape every fake-quant region has after canonicalization (conv + bias
// adds + folded batch norm + activation -> QuantizeLinear).
#pragma once

#include "ir/graph.h"
#include "sim/qat/exact.h"

#include <optional>
#include <vector>

namespace qatc::passes {

struct AffineChain {
  ir::Value* source = nullptr;  // t
  int axis = -1;                // channel axis of scale/offset in t's shape; -1: per tensor
  std::vector<sim::Exact> scale{sim::Exact::from_int(1)};   // A_c, one entry per channel (or one)
  std::vector<sim::Exact> offset{sim::Exact::from_int(0)};  // B_c
  std::optional<sim::Exact> lo, hi;  // bounds from ReLU/Clip, on y
  std::vector<ir::Op*> ops;          // the chain's ops, quantize side first

  bool identity() const;  // A = 1, B = 0, no bounds
  // Entry c of a per-channel list (or its single entry).
  static const sim::Exact& at(const std::vector<sim::Exact>& v, int64_t c) { return v.size() == 1 ? v[0] : v[c]; }
};

// The chain ending at `quantize`'s operand. Stops at the first op that is not a single-use affine
// step, and at a ReLU/Clip that arithmetic follows. Throws Error naming the op when a step's
// constant varies along more than one axis, or along another axis than the rest of the chain.
AffineChain trace_affine_chain(const ir::Graph& g, const ir::Op& quantize);

// The axis of `t`'s shape along which constant `k` (an operand of `op`) varies, -1 if it is a
// scalar in effect, with numpy alignment from the right; Error if it varies along several axes or
// does not broadcast.
int varying_axis(const ir::Op& op, const ir::Value& k, const ir::Value& t);

// The exact real values of a constant operand: a float constant, or a dequantized integer constant
// (torch's converted int8 export and QLinearConv give int32 biases on the x_scale * w_scale grid);
// nullopt for anything else.
std::optional<std::vector<sim::Exact>> exact_constant(const ir::Value& v);

// floor(v) and the class of v - floor(v) in docs/ir.md's bias_frac encoding (0, <1/2, =1/2, >1/2).
struct FloorAndFraction {
  int64_t floor = 0;
  int fraction_class = 0;
};
FloorAndFraction floor_and_fraction(const sim::Exact& v);  // Error if |v| >= 2^62
// The k with v == 2^k, if v is a positive power of two.
std::optional<int> power_of_two_exponent(const sim::Exact& v);

}  // namespace qatc::passes
