// add, sub and mul (numpy broadcasting), widen, clip and lut: the twins of sim/int/elementwise.cpp. Sums are
// formed in 64 bits and narrowed to the result type, which the range analysis has proven holds them.
#include "codegen/halide/pipeline.h"

namespace qatc::codegen::hl {

using namespace Halide;

KernelPipeline elementwise_pipeline(const KernelSpec& s, Backend backend) {
  const ir::Shape& shape = s.result().shape;
  const Type out = halide_type(s.result().dtype);
  std::vector<Var> v = vars("d", shape.size());
  Func y(std::string(kernel_kind_name(s.kind)));
  std::vector<ImageParam> args;
  switch (s.kind) {
    case KernelKind::add:
    case KernelKind::sub:
    case KernelKind::mul: {
      ImageParam a = input(s, 0, "a"), b = input(s, 1, "b");
      Expr ea = cast<int64_t>(broadcast_read(a, s.args[0].shape, v));
      Expr eb = cast<int64_t>(broadcast_read(b, s.args[1].shape, v));
      y(v) = cast(out, s.kind == KernelKind::add ? ea + eb : s.kind == KernelKind::sub ? ea - eb : ea * eb);
      args = {a, b};
      break;
    }
    case KernelKind::widen: {
      ImageParam x = input(s, 0, "x");
      y(v) = cast(out, shift_left(cast<int64_t>(x(v)) - Expr(s.get_int("zero_point")), static_cast<int>(s.get_int("shift"))));
      args = {x};
      break;
    }
    case KernelKind::clip: {
      ImageParam x = input(s, 0, "x");
      y(v) = cast(out, clamp(cast<int64_t>(x(v)), Expr(s.get_int("lo")), Expr(s.get_int("hi"))));
      args = {x};
      break;
    }
    case KernelKind::lut: {
      // A gather from the table; the clamp only tells Halide's bounds inference what x's type
      // already guarantees (every value has its entry).
      ImageParam x = input(s, 0, "x"), table = input(s, 1, "table");
      const auto last = static_cast<int32_t>(s.args[1].shape[0] - 1);
      y(v) = table(clamp(cast<int32_t>(x(v)) - Expr(static_cast<int32_t>(s.get_int("first"))), 0, last));
      args = {x, table};
      break;
    }
    default: throw std::logic_error("elementwise_pipeline: not an elementwise kernel");
  }
  constrain_output(y, s.result());
  // The innermost axes along which each operand is read element by element or not at all
  // (dense_axes; a lookup table is no operand of that kind).
  const size_t operands = s.kind == KernelKind::add || s.kind == KernelKind::sub || s.kind == KernelKind::mul ? 2 : 1;
  vectorize_innermost(s, y, v, backend, dense_axes(s, operands));
  return {y, args};
}

}  // namespace qatc::codegen::hl
