// conv fused with its requantize: the twin of sim/int/conv.cpp + sim/int/requantize.cpp.
// acc(x, y, z, co, n) = bias(co) + Σ_{ci, taps} (x_padded − x_zero_point) · w, then requantized.
// Schedule (all figures from the spec, which took them from the target): output channels in
// blocks of `channel_block` (the matrix unit's width; the weights are arranged so that a block's
// weights for one tap are adjacent), rows in tiles of `tile_rows` whose int32 accumulators live on
// the stack, output columns vectorized by `lanes`.
#include "codegen/halide/pipeline.h"

namespace qatc::codegen::hl {

using namespace Halide;

namespace {

// The dot-product conv (kernel_plan.cpp's plan_dot_conv): 2-D, dense, 8-bit. The input tile is
// copied as unsigned bytes x + offset, the sum starts at the adjusted bias, weights are
// w(ci % 4, co % 16, ci / 4, tap, co / 16).
//   LLVM: the tile copy channel-innermost, a register block of channel vectors x columns, the
//     reduction over 4 channels at a time vectorized atomically: one vpdpbusd per 64 MACs.
//   C: the tile copy column-innermost and columns vectorized with weights broadcast, as the
//     generic conv (Halide 14's C backend turns vector reductions into slow scalar code).
KernelPipeline dot_conv_pipeline(const KernelSpec& s, Backend backend) {
  const auto &kernel = s.get_ints("win_kernel"), &out = s.get_ints("win_out"), &stride = s.get_ints("win_stride"),
             &pad = s.get_ints("win_pad"), &dilation = s.get_ints("win_dilation");
  const ir::Shape& ws = s.args[1].shape;  // C_out / L, taps, C_in / 4, L, 4
  const int lanes = static_cast<int>(ws[3]);
  const int cin4 = static_cast<int>(ws[2] * 4), kw = static_cast<int>(kernel[2]), kh = static_cast<int>(kernel[1]);
  const int offset = static_cast<int>(s.get_int("dot_offset")), zp = static_cast<int>(s.get_int("x_zero_point"));

  ImageParam x = input(s, 0, "x"), w = input(s, 1, "w"), start = input(s, 2, "start"), table = input(s, 3, "rq");
  WindowVars v;
  Func padded = padded_input(s, x, cast(x.type(), zp), v);
  const Var &vx = v.x, &vy = v.y, &vc = v.c, &vn = v.n;
  Func packed("packed");  // (channel, column, row, n)
  packed(vc, vx, vy, vn) = cast<uint8_t>(cast<int16_t>(padded(vx, vy, 0, vc, vn)) + offset);

  RDom r({{0, cin4}, {0, kw}, {0, kh}}, "r");
  Func acc("acc");
  acc(vc, vx, vy, vn) = start(vc);
  Expr col = vx * static_cast<int>(stride[2]) - static_cast<int>(pad[2]) + r.y * static_cast<int>(dilation[2]);
  Expr row = vy * static_cast<int>(stride[1]) - static_cast<int>(pad[1]) + r.z * static_cast<int>(dilation[1]);
  acc(vc, vx, vy, vn) += cast<int32_t>(packed(r.x, col, row, vn)) *
                         cast<int32_t>(w(r.x % 4, vc % lanes, r.x / 4, r.z * kw + r.y, vc / lanes));
  Func y("conv");
  y(vx, vy, vc, vn) = requantize(s, acc(vc, vx, vy, vn), table, s.get_int("rq_axis") >= 0 ? Expr(vc) : Expr(0));
  constrain_output(y, s.result());

  const int64_t cout = s.result().shape[1];
  Var yo("yo"), yi("yi"), co("co"), ci("ci"), xo("xo"), xi("xi");
  if (backend == Backend::llvm) {
    const int vectors = static_cast<int>(s.get_int("dot_channel_vectors")), columns = static_cast<int>(s.get_int("dot_columns"));
    const int block = vectors * lanes;
    y.split(vy, yo, yi, static_cast<int>(s.get_int("dot_tile_rows")))
        .split(vx, xo, xi, columns, out[2] % columns == 0 ? TailStrategy::RoundUp : TailStrategy::ShiftInwards)
        .split(vc, co, ci, block, cout % block == 0 ? TailStrategy::RoundUp : TailStrategy::GuardWithIf)
        .reorder(ci, xi, co, xo, yi, yo)
        .vectorize(ci, lanes, TailStrategy::GuardWithIf)
        .unroll(xi);
    packed.compute_at(y, yo).store_in(MemoryType::Stack);
    // Channels round up to whole vectors (the weights and start values are padded for it).
    acc.compute_at(y, co).store_in(MemoryType::Stack).vectorize(vc, lanes, TailStrategy::RoundUp).unroll(vc).unroll(vx);
    RVar ro("ro"), ri("ri");
    acc.update()
        .split(r.x, ro, ri, 4)
        .reorder(ri, vc, vx, ro, r.y, r.z)
        .atomic()
        .vectorize(ri, 4)
        .vectorize(vc, lanes, TailStrategy::RoundUp)
        .unroll(vc)
        .unroll(vx);
  } else {
    const int vlanes = static_cast<int>(s.get_int("lanes"));
    y.split(vc, co, ci, lanes, cout % lanes == 0 ? TailStrategy::RoundUp : TailStrategy::GuardWithIf)
        .split(vy, yo, yi, static_cast<int>(s.get_int("tile_rows")))
        .reorder(vx, ci, yi, yo);
    vectorize_pure(y, vx, out[2], vlanes);
    packed.compute_at(y, yo).store_in(MemoryType::Stack).reorder_storage(vx, vc, vy, vn);
    acc.compute_at(y, yo).store_in(MemoryType::Stack).reorder_storage(vx, vc, vy, vn).vectorize(vx, vlanes, TailStrategy::RoundUp);
    RVar ro("ro"), ri("ri");
    acc.update()
        .split(r.x, ro, ri, 4)
        .reorder(vx, vc, ri, r.y, r.z, ro, vy, vn)
        .vectorize(vx, vlanes, TailStrategy::RoundUp)
        .unroll(ri);
  }
  return {y, {x, w, start, table}};
}

}  // namespace

KernelPipeline conv_pipeline(const KernelSpec& s, Backend backend) {
  if (s.attrs.count("dot")) return dot_conv_pipeline(s, backend);
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
  // The padded input rows a tile reads, copied once per tile, then read by dense vectors. The
  // copy is scalar in C: Halide 14's C backend miscompiles the odd-width vectors a vectorized
  // boundary produces.
  padded.compute_at(y, spatial >= 2 ? yo : co).store_in(MemoryType::Stack);
  if (backend == Backend::llvm) padded.vectorize(v.x, lanes, TailStrategy::RoundUp);
  acc.vectorize(vx, lanes, TailStrategy::RoundUp);
  // Reading the padded input past the row end is safe (its copy is sized to what is read), so the
  // update rounds up too.
  acc.update().reorder(vx, vc, r[0], r[1], r[2], r[3], vy, vz, vn).vectorize(vx, lanes, TailStrategy::RoundUp);
  return {y, has_bias ? std::vector<ImageParam>{x, w, bias, table} : std::vector<ImageParam>{x, w, table}};
}

}  // namespace qatc::codegen::hl
