// Standalone requantize (of an add's sum, a widened tensor, ...): the twin of sim/int/requantize.cpp.
// The arithmetic itself is requantize() in common.cpp, shared with the fused conv and matmul kernels.
#include "codegen/halide/pipeline.h"

namespace qatc::codegen::hl {

using namespace Halide;

KernelPipeline requantize_pipeline(const KernelSpec& s) {
  const ir::Shape& shape = s.result().shape;
  const size_t rank = shape.size();
  const int64_t axis = s.get_int("rq_axis");
  ImageParam acc = input(s, 0, "acc"), table = input(s, 1, "rq");
  std::vector<Var> v = vars("d", rank);
  Func y("requantize");
  y(v) = requantize(s, acc(v), table, axis >= 0 ? Expr(v[rank - 1 - static_cast<size_t>(axis)]) : Expr(0));
  constrain_output(y, s.result());
  if (rank > 0) vectorize_pure(y, v[0], shape.back(), static_cast<int>(s.get_int("lanes")));
  return {y, {acc, table}};
}

}  // namespace qatc::codegen::hl
