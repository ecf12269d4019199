// matmul fused with its requantize: the twin of sim/int/conv.cpp's matmul + sim/int/requantize.cpp.
// acc(n, m, batch...) = Σ_k (a(k, m, batch...) − x_zero_point) · b(n, k), b a constant [K][N] matrix
// whose rows the vectorized n loop reads contiguously; accumulators per row live on the stack.
#include "codegen/halide/pipeline.h"

namespace qatc::codegen::hl {

using namespace Halide;

KernelPipeline matmul_pipeline(const KernelSpec& s, Backend backend) {
  const ir::Shape& bs = s.args[1].shape;
  const size_t rank = s.result().shape.size();
  const int64_t k = bs[0], n = bs[1], zp = s.get_int("x_zero_point");
  ImageParam a = input(s, 0, "a"), b = input(s, 1, "b"), table = input(s, 2, "rq");

  std::vector<Var> v = vars("d", rank);  // d0 = n, d1 = m, d2... batch
  RDom r(0, static_cast<int>(k), "r");
  std::vector<Expr> a_at = exprs(v);
  a_at[0] = r;
  Func acc("acc");
  const Type acc_type = halide_type(s.get_int("acc_bits") == 64 ? ir::DType::i64 : ir::DType::i32);
  acc(v) = cast(acc_type, 0);
  acc(v) += cast(acc_type, (cast<int32_t>(a(a_at)) - static_cast<int>(zp)) * cast<int32_t>(b(v[0], r)));

  Func y("matmul");
  y(v) = requantize(s, acc(v), table, s.get_int("rq_axis") >= 0 ? Expr(v[0]) : Expr(0), backend);
  constrain_output(y, s.result());

  acc.compute_at(y, v[1]).store_in(MemoryType::Stack);
  acc.update().reorder(v[0], r);
  if (backend == Backend::llvm) {
    const int lanes = static_cast<int>(s.get_int("lanes"));
    vectorize_pure(y, v[0], n, lanes);
    // b has exactly n columns: a vector past its end would read outside it, so the tail is guarded.
    const TailStrategy tail = n % lanes == 0 ? TailStrategy::RoundUp : TailStrategy::GuardWithIf;
    acc.vectorize(v[0], lanes, tail);
    acc.update().vectorize(v[0], lanes, tail);
  }
  return {y, {a, b, table}};
}

}  // namespace qatc::codegen::hl
