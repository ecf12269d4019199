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

KernelPipeline pool_pipeline(const KernelSpec& s, Backend backend) {
  const bool average = s.kind == KernelKind::avgpool;
  const bool sum = s.attrs.count("sum") != 0;  // the window sums Σ(x − z), i32, not divided
  const auto &kernel = s.get_ints("win_kernel"), &out = s.get_ints("win_out");
  const ir::Shape& xs = s.args[0].shape;
  const size_t spatial = xs.size() - 2;
  const Type xt = halide_type(s.args[0].dtype);
  const int64_t zx = average ? s.get_int("x_zero_point") : 0;
  ImageParam x = input(s, 0, "x");

  WindowVars v;
  const Var &vx = v.x, &vy = v.y, &vz = v.z, &vc = v.c, &vn = v.n;
  const Expr fill = average ? cast(xt, static_cast<int>(zx)) : xt.min();
  // Where kernel_plan.cpp chose it (channels_innermost), a channels-last input is pooled a vector
  // of channels at a time, read in place (the bounds test is one per pixel and tap).
  const bool channels_last = backend == Backend::llvm && s.attrs.count("channels_innermost");
  Func padded = backend == Backend::llvm ? padded_input(s, x, fill, v) : padded_copy(s, x, fill, v);
  RDom r(std::vector<Range>{{0, static_cast<int>(kernel[2])}, {0, static_cast<int>(kernel[1])}, {0, static_cast<int>(kernel[0])}}, "r");
  Expr tap = padded(tap_position(s, v, r, vc));
  Func reduced("window");
  if (average) {
    reduced(vx, vy, vz, vc, vn) = 0;
    reduced(vx, vy, vz, vc, vn) += cast<int32_t>(tap) - static_cast<int>(zx);
  } else {
    reduced(vx, vy, vz, vc, vn) = xt.min();
    reduced(vx, vy, vz, vc, vn) = max(reduced(vx, vy, vz, vc, vn), tap);
  }

  Expr ey = v.y_or_0(spatial), ez = v.z_or_0(spatial);
  Expr value = reduced(vx, ey, ez, vc, vn);
  if (average && !sum) {
    Buffer<int32_t> c0 = table(s.get_ints("count0"), "count0"), c1 = table(s.get_ints("count1"), "count1"),
                    c2 = table(s.get_ints("count2"), "count2");
    const int64_t shift = s.get_int("shift");
    Expr numerator = shift_left(cast<int64_t>(value), static_cast<int>(std::max<int64_t>(-shift, 0)));
    Expr divisor = cast<int64_t>(c0(ez) * c1(ey) * c2(vx)) << cast<int64_t>(static_cast<int>(std::max<int64_t>(shift, 0)));
    auto [floor, cmp] = divided(numerator, divisor, 0);
    Expr rounded = round_floored(s.get_string("round"), floor, cmp) + Expr(s.get_int("y_zero_point"));
    value = clamp(rounded, Expr(s.get_int("qmin")), Expr(s.get_int("qmax")));
  }
  Func y(average ? "avgpool" : "maxpool");
  y(v.result(spatial)) = cast(halide_type(s.result().dtype), value);
  constrain_output(y, s.result());

  if (channels_last) {
    const int lanes = static_cast<int>(s.get_int("lanes"));
    const int64_t channels = s.result().shape[1];
    Var co("co"), ci("ci");
    y.split(vc, co, ci, lanes, channels % lanes == 0 ? TailStrategy::RoundUp : TailStrategy::ShiftInwards)
        .reorder(ci, co, vx, vy)
        .vectorize(ci);
    reduced.compute_at(y, co).vectorize(vc);
    reduced.update().reorder(vc, r[0], r[1], r[2]).vectorize(vc);
    if (kernel[1] * kernel[2] <= 25) reduced.update().unroll(r[0]).unroll(r[1]);
    return {y, {x}};
  }
  // Per output row: the padded rows it reads, copied, and its window sums or maxima.
  reduced.compute_at(y, spatial >= 2 ? vy : vc).store_in(MemoryType::Stack);
  padded.compute_at(y, spatial >= 2 ? vy : vc).store_in(MemoryType::Stack);
  reduced.update().reorder(vx, r[0], r[1], r[2]);
  if (backend == Backend::llvm) {
    // Reading the padded input past the row end is safe, so the window rounds up.
    const int lanes = static_cast<int>(s.get_int("lanes"));
    vectorize_pure(y, vx, out[2], lanes);
    padded.vectorize(vx, lanes, TailStrategy::RoundUp);
    reduced.vectorize(vx, lanes, TailStrategy::RoundUp);
    reduced.update().vectorize(vx, lanes, TailStrategy::RoundUp);
  }
  return {y, {x}};
}

}  // namespace qatc::codegen::hl
