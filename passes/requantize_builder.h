// Builds the requantize op that turns an integer accumulator into a quantize op's result, with
// the float bias, the scale ratio and the activation bounds all made exact integers (docs/ir.md).
#pragma once

#include "passes/affine_chain.h"
#include "passes/pass.h"

namespace qatc::passes {

// An integer tensor and the real value of one step of it, per channel along `axis` (or one).
struct Accumulator {
  ir::Value* value = nullptr;  // i32 or i64
  std::vector<sim::Exact> unit;
  int axis = -1;
};

// Emits requantize(acc [, bias]) computing quantize(A_c * acc * unit_c + B_c), clamped as `chain`
// says, with `quantize`'s result type; the result is named `name`. Refuses (Error naming
// `quantize`) a ratio that is not a power of two unless options.allow_non_pot, negative scales,
// and biases beyond int32. A per-axis quantize (one zero point) puts each channel's scale into
// its shift.
ir::Value* emit_requantize(ir::Graph& g, const Accumulator& acc, const AffineChain& chain, const ir::Op& quantize,
                           const PassOptions& options, const std::string& name);

// The quantized bound R(v / scale) + zp of a real activation bound, clamped to the type's range
// (the scale of `channel` of a per-axis grid).
int64_t quantized_bound(const sim::Exact& v, const ir::QuantParams& q, ir::Rounding rule, int64_t channel = 0);

}  // namespace qatc::passes
