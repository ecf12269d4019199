// conv fused with its requantize: the twin of sim/int/conv.cpp + sim/int/requantize.cpp.
// acc(x, y, z, co, n) = bias(co) + Σ_{ci, taps} (x_padded − x_zero_point) · w, then requantized.
// Schedule (all figures from the spec, which took them from the target): output channels in
// blocks of `channel_block` (the matrix unit's width; the weights are arranged so that a block's
// weights for one tap are adjacent), rows in tiles of `tile_rows` whose int32 accumulators live on
// the stack, output columns vectorized by `lanes`.
#include "codegen/halide/pipeline.h"

namespace qatc::codegen::hl {

using namespace Halide;

KernelPipeline conv_pipeline(const KernelSpec& s) {
  const auto &kernel = s.get_ints("win_kernel"), &out = s.get_ints("win_out");
  const bool has_bias = s.get_int("has_bias") != 0;
  const int64_t block = s.get_int("channel_block"), zp = s.get_int("x_zero_point");
  const ir::Shape& xs = s.args[0].shape;  // N, C, spatial...
  const ir::Shape& ws = s.args[1].shape;  // C_out / B, C_in per group, kd, kh, kw, B
  const ir::Shape& ys = s.result().shape;
  const int64_t cout = ys[1], cin = ws[1], out_per_group = cout / s.get_int("group");
  const size_t spatial = xs.size() - 2;

  ImageParam x = input(s, 0, "x"), w = input(s, 1, "w");
  ImageParam bias = has_bias ? input(s, 2, "bias") : ImageParam();
  ImageParam table = input(s, has_bias ? 3 : 2, "rq");

  WindowVars v;
  Func padded = padded_input(s, x, cast(x.type(), static_cast<int>(zp)), v);

  RDom r(std::vector<Range>{{0, static_cast<int>(kernel[2])}, {0, static_cast<int>(kernel[1])},
                            {0, static_cast<int>(kernel[0])}, {0, static_cast<int>(cin)}},
         "r");
  Func acc("acc");
  const Var &vx = v.x, &vy = v.y, &vz = v.z, &vc = v.c, &vn = v.n;
  // 32-bit sums, or 64-bit ones for 16x16-bit products (each product still fits 32 bits).
  const Type acc_type = halide_type(s.get_int("acc_bits") == 64 ? ir::DType::i64 : ir::DType::i32);
  acc(vx, vy, vz, vc, vn) = has_bias ? cast(acc_type, bias(vc)) : cast(acc_type, 0);
  Expr ic = (vc / static_cast<int>(out_per_group)) * static_cast<int>(cin) + r[3];
  Expr wv = w(vc % static_cast<int>(block), r[0], r[1], r[2], r[3], vc / static_cast<int>(block));
  acc(vx, vy, vz, vc, vn) +=
      cast(acc_type, (cast<int32_t>(padded(tap_position(s, v, r, ic))) - static_cast<int>(zp)) * cast<int32_t>(wv));

  Func y("conv");
  y(v.result(spatial)) = requantize(s, acc(vx, v.y_or_0(spatial), v.z_or_0(spatial), vc, vn), table,
                                    s.get_int("rq_axis") >= 0 ? Expr(vc) : Expr(0));
  constrain_output(y, s.result());

  const int lanes = static_cast<int>(s.get_int("lanes"));
  Var co("co"), ci("ci"), yo("yo"), yi("yi");
  y.split(vc, co, ci, static_cast<int>(block));
  vectorize_pure(y, vx, out[2], lanes);
  if (spatial >= 2) {
    y.split(vy, yo, yi, static_cast<int>(s.get_int("tile_rows"))).reorder(vx, ci, yi, yo);
    acc.compute_at(y, yo);
  } else {
    y.reorder(vx, ci, co);
    acc.compute_at(y, co);
  }
  acc.store_in(MemoryType::Stack);
  // The padded input rows a tile reads, copied once per tile (scalar: Halide 14's C backend
  // miscompiles the odd-width vectors a vectorized boundary produces), then read by dense vectors.
  padded.compute_at(y, spatial >= 2 ? yo : co).store_in(MemoryType::Stack);
  acc.vectorize(vx, lanes, TailStrategy::RoundUp);
  // Reading the padded input past the row end is safe (its copy is sized to what is read), so the
  // update rounds up too.
  acc.update().reorder(vx, vc, r[0], r[1], r[2], r[3], vy, vz, vn).vectorize(vx, lanes, TailStrategy::RoundUp);
  return {y, has_bias ? std::vector<ImageParam>{x, w, bias, table} : std::vector<ImageParam>{x, w, table}};
}

}  // namespace qatc::codegen::hl
