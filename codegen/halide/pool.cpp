// Max and average pooling: the twins of sim/int/pool.cpp. Padding never contributes: a max pool
// pads with the type's minimum, an average pool with the zero point (a zero term) and divides by
// the window's count, which per axis is a table the plan computed with sim's window geometry.
// The average is rounded exactly: floor and remainder of sum · 2^-shift / count by integer division.
#include "codegen/halide/pipeline.h"

namespace qatc::codegen::hl {

using namespace Halide;

namespace {

Buffer<int32_t> table(const std::vector<int64_t>& values, const std::string& name) {
  Buffer<int32_t> b(static_cast<int>(values.size()), name);
  for (size_t i = 0; i < values.size(); ++i) b(static_cast<int>(i)) = static_cast<int32_t>(values[i]);
  return b;
}

}  // namespace

KernelPipeline pool_pipeline(const KernelSpec& s) {
  const bool average = s.kind == KernelKind::avgpool;
  const auto &in = s.get_ints("win_in"), &kernel = s.get_ints("win_kernel"), &stride = s.get_ints("win_stride"),
             &pad = s.get_ints("win_pad"), &dilation = s.get_ints("win_dilation"), &out = s.get_ints("win_out");
  const ir::Shape& xs = s.args[0].shape;
  const size_t spatial = xs.size() - 2;
  const Type xt = halide_type(s.args[0].dtype);
  const int64_t zx = average ? s.get_int("x_zero_point") : 0;
  ImageParam x = input(s, 0, "x");

  Var vx("x"), vy("y"), vz("z"), vc("c"), vn("n");
  Func x5("x5");
  {
    std::vector<Expr> at{vx};
    if (spatial >= 2) at.push_back(vy);
    if (spatial >= 3) at.push_back(vz);
    at.push_back(vc);
    at.push_back(vn);
    x5(vx, vy, vz, vc, vn) = x(at);
  }
  Expr fill = average ? cast(xt, static_cast<int>(zx)) : xt.min();
  Func padded = BoundaryConditions::constant_exterior(
      x5, fill, {{0, static_cast<int>(in[2])}, {0, static_cast<int>(in[1])}, {0, static_cast<int>(in[0])}, {0, static_cast<int>(xs[1])}, {0, static_cast<int>(xs[0])}});
  RDom r(std::vector<Range>{{0, static_cast<int>(kernel[2])}, {0, static_cast<int>(kernel[1])}, {0, static_cast<int>(kernel[0])}}, "r");
  Expr tap = padded(vx * static_cast<int>(stride[2]) - static_cast<int>(pad[2]) + r[0] * static_cast<int>(dilation[2]),
                    vy * static_cast<int>(stride[1]) - static_cast<int>(pad[1]) + r[1] * static_cast<int>(dilation[1]),
                    vz * static_cast<int>(stride[0]) - static_cast<int>(pad[0]) + r[2] * static_cast<int>(dilation[0]), vc, vn);
  Func reduced("window");
  if (average) {
    reduced(vx, vy, vz, vc, vn) = 0;
    reduced(vx, vy, vz, vc, vn) += cast<int32_t>(tap) - static_cast<int>(zx);
  } else {
    reduced(vx, vy, vz, vc, vn) = xt.min();
    reduced(vx, vy, vz, vc, vn) = max(reduced(vx, vy, vz, vc, vn), tap);
  }

  Expr ey = spatial >= 2 ? Expr(vy) : Expr(0), ez = spatial >= 3 ? Expr(vz) : Expr(0);
  Expr value = reduced(vx, ey, ez, vc, vn);
  if (average) {
    Buffer<int32_t> c0 = table(s.get_ints("count0"), "count0"), c1 = table(s.get_ints("count1"), "count1"),
                    c2 = table(s.get_ints("count2"), "count2");
    const int64_t shift = s.get_int("shift");
    Expr numerator = cast<int64_t>(value) << cast<int64_t>(static_cast<int>(std::max<int64_t>(-shift, 0)));
    Expr divisor = cast<int64_t>(c0(ez) * c1(ey) * c2(vx)) << cast<int64_t>(static_cast<int>(std::max<int64_t>(shift, 0)));
    // Halide's signed division rounds down and its remainder is never negative.
    Expr floor = numerator / divisor, rem = numerator % divisor;
    Expr cmp = select(2 * rem < divisor, -1, 2 * rem > divisor, 1, 0);
    Expr rounded = round_floored(s.get_string("round"), floor, cmp) + Expr(s.get_int("y_zero_point"));
    value = clamp(rounded, Expr(s.get_int("qmin")), Expr(s.get_int("qmax")));
  }
  std::vector<Var> ov{vx};
  if (spatial >= 2) ov.push_back(vy);
  if (spatial >= 3) ov.push_back(vz);
  ov.push_back(vc);
  ov.push_back(vn);
  Func y(average ? "avgpool" : "maxpool");
  y(ov) = cast(halide_type(s.result().dtype), value);
  constrain_output(y, s.result());

  const int lanes = static_cast<int>(s.get_int("lanes"));
  vectorize_pure(y, vx, out[2], lanes);
  // Per output row; reading the padded input past the row end is safe, so the window rounds up.
  reduced.compute_at(y, spatial >= 2 ? vy : vc).store_in(MemoryType::Stack);
  // A scalar copy of the padded rows (see conv.cpp: vectorized boundaries miscompile in Halide 14's C backend).
  padded.compute_at(y, spatial >= 2 ? vy : vc).store_in(MemoryType::Stack);
  reduced.vectorize(vx, lanes, TailStrategy::RoundUp);
  reduced.update().reorder(vx, r[0], r[1], r[2]).vectorize(vx, lanes, TailStrategy::RoundUp);
  return {y, {x}};
}

}  // namespace qatc::codegen::hl
