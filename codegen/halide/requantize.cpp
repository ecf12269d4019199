// Standalone requantize (of an add's sum, a widened tensor, ...): the twin of sim/int/requantize.cpp,
// and the residual add fused with its widens and its requantize.
// The arithmetic itself is requantize() in common.cpp, shared with the fused conv and matmul kernels.
#include "codegen/halide/pipeline.h"

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
  if (s.attrs.count("fused_operands")) {
    // kernel_plan.cpp's plan_fused_sum: one or two operands widened onto a common grid and summed
    // (sim/int's widen and add; the sum fits int32, as the range analysis proved), then requantized.
    const int operands = static_cast<int>(s.get_int("fused_operands"));
    const char* side[] = {"lhs", "rhs"};
    Expr sum = cast<int64_t>(0);
    for (int i = 0; i < operands; ++i) {
      args.push_back(input(s, static_cast<size_t>(i), side[i]));
      sum += on_common_grid(s, side[i], cast<int64_t>(args.back()(v)));
    }
    args.push_back(input(s, static_cast<size_t>(operands), "rq"));
    y(v) = requantize(s, cast<int32_t>(sum), args.back(), channel, backend);
  } else {
    ImageParam acc = input(s, 0, "acc"), table = input(s, 1, "rq");
    y(v) = requantize(s, acc(v), table, channel, backend);
    args = {acc, table};
  }
  constrain_output(y, s.result());
  // The axes inside the per-channel axis share a channel's parameters (every operand is dense).
  vectorize_innermost(s, y, v, backend, axis >= 0 ? rank - 1 - static_cast<size_t>(axis) : rank);
  return {y, args};
}

}  // namespace qatc::codegen::hl
