// Standalone requantize (of an add's sum, a widened tensor, ...): the twin of sim/int/requantize.cpp,
// and the residual add fused with its widens and its requantize.
// The arithmetic itself is requantize() in common.cpp, shared with the fused conv and matmul kernels.
#include "codegen/halide/pipeline.h"

namespace qatc::codegen::hl {

using namespace Halide;

KernelPipeline requantize_pipeline(const KernelSpec& s) {
  const ir::Shape& shape = s.result().shape;
  const size_t rank = shape.size();
  const int64_t axis = s.get_int("rq_axis");
  std::vector<Var> v = vars("d", rank);
  Expr channel = axis >= 0 ? Expr(v[rank - 1 - static_cast<size_t>(axis)]) : Expr(0);
  Func y("requantize");
  std::vector<ImageParam> args;
  if (s.attrs.count("fused_add")) {
    // A residual add (kernel_plan.cpp's plan_fused_add): both operands widened onto the common grid
    // and summed (sim/int's widen and add; the sum fits int32, as the range analysis proved), then
    // requantized.
    ImageParam a = input(s, 0, "a"), b = input(s, 1, "b"), table = input(s, 2, "rq");
    const auto widened = [&](const ImageParam& p, const std::string& side) {
      return (cast<int64_t>(p(v)) - Expr(s.get_int(side + "_zero_point"))) << cast<int64_t>(static_cast<int>(s.get_int(side + "_shift")));
    };
    y(v) = requantize(s, cast<int32_t>(widened(a, "lhs") + widened(b, "rhs")), table, channel);
    args = {a, b, table};
  } else {
    ImageParam acc = input(s, 0, "acc"), table = input(s, 1, "rq");
    y(v) = requantize(s, acc(v), table, channel);
    args = {acc, table};
  }
  constrain_output(y, s.result());
  if (rank > 0) vectorize_pure(y, v[0], shape.back(), static_cast<int>(s.get_int("lanes")));
  return {y, args};
}

}  // namespace qatc::codegen::hl
