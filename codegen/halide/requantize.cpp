// Standalone requantize (of an add's sum, a widened tensor, ...): the twin of sim/int/requantize.cpp,
// and the residual add, or a product (a squeeze-excitation's scaling), fused with its widens and
// its requantize.
// The arithmetic itself is requantize() in common.cpp, shared with the fused conv and matmul kernels.
#include "codegen/halide/pipeline.h"

#include <algorithm>

namespace qatc::codegen::hl {

using namespace Halide;

KernelPipeline requantize_pipeline(const KernelSpec& s, Backend backend) {
  const ir::Shape& shape = s.result().shape;
  const size_t rank = shape.size();
  const int64_t axis = s.get_int("rq_axis");
  std::vector<Var> v = vars("d", rank);
  Expr channel = axis >= 0 ? Expr(v[rank - 1 - static_cast<size_t>(axis)]) : Expr(0);
  Func y("requantize");
  std::vector<ImageParam> args;
  size_t dense = rank;
  if (s.attrs.count("fused_operands")) {
    // kernel_plan.cpp's plan_fused_sum: one or two operands widened onto a common grid and summed
    // (sim/int's widen and add), or two multiplied (its mul, the operands broadcast), then
    // requantized. The range analysis proved that each widened operand and the sum or product
    // fit int32, so int32 arithmetic computes them exactly.
    const int operands = static_cast<int>(s.get_int("fused_operands"));
    const bool product = s.attrs.count("fused_product") != 0;
    const char* side[] = {"lhs", "rhs"};
    Expr result;
    for (int i = 0; i < operands; ++i) {
      args.push_back(input(s, static_cast<size_t>(i), side[i]));
      Expr operand = on_common_grid(s, side[i], cast<int32_t>(broadcast_read(args.back(), s.args[static_cast<size_t>(i)].shape, v)));
      result = !result.defined() ? operand : product ? result * operand : result + operand;
    }
    args.push_back(input(s, static_cast<size_t>(operands), "rq"));
    y(v) = requantize(s, result, args.back(), channel, backend);
    dense = dense_axes(s, static_cast<size_t>(operands));
  } else {
    ImageParam acc = input(s, 0, "acc"), table = input(s, 1, "rq");
    y(v) = requantize(s, acc(v), table, channel, backend);
    args = {acc, table};
  }
  constrain_output(y, s.result());
  // The axes inside the per-channel axis share a channel's parameters; a fused product's broadcast
  // scale is constant along its dense axes (dense_axes).
  vectorize_innermost(s, y, v, backend, std::min(dense, axis >= 0 ? rank - 1 - static_cast<size_t>(axis) : rank));
  return {y, args};
}

}  // namespace qatc::codegen::hl
