// conv fused with its requantize: the twin of sim/int/conv.cpp + sim/int/requantize.cpp.
// acc(x, y, z, co, n) = bias(co) + Σ_{ci, taps} (x_padded − x_zero_point) · w, then requantized.
// Schedule (all figures from the spec, which took them from the target): output channels in
// blocks of `channel_block` (the matrix unit's width; the weights are arranged so that a block's
// weights for one tap are adjacent), rows in tiles of `tile_rows` whose int32 accumulators live on
// the stack, output columns vectorized by `lanes`.
#include "codegen/halide/pipeline.h"
#include "codegen/schedule.h"
#include <functional>

namespace qatc::codegen::hl {

using namespace Halide;

namespace {

// The block of sums one C dot-product loop computes, sharing each load of the input and of the
// weights (gcc 12 vectorizes a block's reductions at once). Bytes (W = 4, summed with vpdpbusd):
// 2 channels x 8 columns (ResNet-18's bench_c on a Sapphire Rapids, summed per-layer minima: 2 x 2
// 21.9 ms, 2 x 8 17.2; 2 x 4 19.0, 4 x 4 17.9, 1 x 8 18.3, 4 x 8 18.4, 2 x 16 19.2, 8 x 1 19.5,
// 4 x 2 19.6, 4 x 1 21.6; its 7x7 stem in the patch form 2.36 -> 1.87 ms, MobileNetV2's 3x3 stem
// 0.98 -> 0.72; MobileNetV2's 1x1 convs alike in 2 x 4, 2 x 8 and 4 x 4). 16-bit operands (W = 2):
// 4 channels x 1 column (ResNet-18's bench_c on a Zen 3, summed per-layer minima: 51.2 -> 47.5 ms;
// 4 x 2, 2 x 4, 3 x 2, 8 x 1 and 3 x 1 were slower, 6 x 1 46.0 ms with a guarded tail at 64
// channels; MobileNetV2's 1x1 convs: 2 x 2 and 2 x 4 slower).
struct CDotBlock {
  int channels, columns;
};
CDotBlock c_dot_block(int width) { return width == 2 ? CDotBlock{4, 1} : CDotBlock{2, 8}; }

// a·b of two 8-bit values, exactly, in 16 bits (unsigned where both are).
Expr product16(Expr a, Expr b) {
  const Type t = a.type().is_uint() && b.type().is_uint() ? UInt(16) : Int(16);
  return cast(t, a) * cast(t, b);
}

// One product of a C dot-product loop, as a 32-bit value. An unsigned byte times a signed byte
// fits in 16 bits: written as a 16-bit product, gcc 12 sums every reduction of a block with
// vpdpbusd; as a 32-bit product of operands the block's sums share, it sums one of them from
// 16-bit halves with vpdpwssd (a 3x3 conv's 192-byte row loop in 2 x 2 blocks on a Sapphire
// Rapids: 96 -> 140 GMAC/s). 16-bit operands (the pair form) keep 32-bit products, which gcc sums
// with vpmaddwd.
Expr c_dot_product(Expr a, Expr b) {
  if (a.type().bits() == 8 && b.type().bits() == 8) return cast<int32_t>(product16(a, b));
  return cast<int32_t>(a) * cast<int32_t>(b);
}

// Rewrites each sum of 4 u8 x s8 products per int32 lane (the dot-product conv's reduction, as
// vpdpbusd would take it) into 2 pair sums per int16 lane, saturating (pmaddubsw, which Halide 14's
// x86 backend emits for this node), summed into the int32 lane by a multiply by ones (pmaddwd):
// twice the products of one pmaddwd of 16-bit pairs per pair of instructions. The plan's weights
// keep every pair sum below the saturation (saturating_pairs.h), so the sum is exact. Halide has
// no schedule for it: atomic() cannot prove a saturating add associative.
class SaturatingPairs : public Internal::IRMutator {
  using IRMutator::visit;
  Expr visit(const Internal::VectorReduce* op) override {
    const int in = op->value.type().lanes(), out = op->type.lanes();
    const Internal::Cast* widened = op->value.as<Internal::Cast>();
    const Internal::Call* product = widened ? widened->value.as<Internal::Call>() : nullptr;
    if (op->op != Internal::VectorReduce::Add || in != out * 4 || op->type.element_of() != Int(32) || !product ||
        !product->is_intrinsic(Internal::Call::widening_mul) || product->args[0].type().element_of() != UInt(8) ||
        product->args[1].type().element_of() != Int(8))
      return IRMutator::visit(op);
    Expr pairs = Internal::VectorReduce::make(Internal::VectorReduce::SaturatingAdd, product, in / 2);
    Expr widened_pairs = Internal::Call::make(Int(32, in / 2), Internal::Call::widening_mul, {pairs, Internal::make_const(Int(16, in / 2), 1)},
                                              Internal::Call::PureIntrinsic);
    return Internal::VectorReduce::make(Internal::VectorReduce::Add, widened_pairs, out);
  }
};

// The dot-product conv (kernel_plan.cpp's plan_dot_conv): 2-D, dense, 8-bit. The input tile is
// copied as x + offset (unsigned bytes; 16-bit for vpmaddwd, so that each step broadcasts a
// 32-bit pair without widening it), channel-innermost, per tile of rows or, where no row's copy
// fits the stack, per chunk of whole register blocks; the sum starts at the adjusted bias;
// weights are w(ci % W, co % 16, ci / W, tap, co / 16), W input channels per step of the host
// kernel's reduction (4: vpdpbusd; 2: vpmaddwd, where Halide would otherwise split each 4-product
// sum across lanes and add the halves with shuffles), or in a plan for C alone w(ci, tap, co).
//   LLVM: a register block of channel vectors x columns, the reduction over W channels at a time
//     vectorized atomically: one vpdpbusd per 64 MACs (W = 4), one vpmaddwd per 16 (W = 2). The
//     block is requantized (and a fused residual add applied, common.cpp's conv_result) and stored
//     a channel's columns at a time (a transpose in registers), so that the output planes get
//     vector stores rather than one byte store per channel.
//   C: Halide 14's C backend turns vector reductions into scalar code, so the C schedule leaves the
//     vectorizing to the C compiler: each output (channel, column) summed into a scalar over
//     operands adjacent in both the tile copy and the channel's weights (rows read in place, or
//     from the LLVM order rearranged into [tap][C_in] once per tile), a block of such sums per loop
//     (c_dot_block). gcc's loop vectorizer turns that loop into the dot-product instruction: bytes
//     for vpdpbusd (gcc 12, W = 4, 16-bit products: c_dot_product); where the target has no byte
//     dot product (W = 2), both operands are 16-bit, which gcc sums with vpmaddwd (from bytes it
//     multiplies 16-bit halves and widens each product: ResNet-18's C path on a Zen 3, 164 -> 54
//     ms). The loop runs (kernel_plan.cpp's dot_c_loop) over each output's whole patch, gathered
//     per output row ("patch": bytes, and 16-bit pairs of few channels, a stem's), or over a
//     kernel row's kw x cin4 operands of the tile rows, copied channel-innermost (one tap's cin4
//     with column dilation; "row": 16-bit pairs); where either is shorter than the C loops take
//     (1x1 convs of 8 channels), the C schedule takes the generic conv's form ("column").
KernelPipeline dot_conv_pipeline(const KernelSpec& s, Backend backend) {
  const auto &kernel = s.get_ints("win_kernel"), &stride = s.get_ints("win_stride"), &pad = s.get_ints("win_pad"),
             &dilation = s.get_ints("win_dilation"), &out = s.get_ints("win_out");
  // Weights in the LLVM order, (C_out / L, taps, C_in / W, L, W), or in rows for the C loops,
  // (C_out, taps, C_in): 16-bit in the pair form, where W is 2 (kernel_plan.cpp's WeightsFor).
  const ir::Shape& ws = s.args[1].shape;
  const bool weight_rows = s.attrs.count("dot_weight_rows") != 0;
  if (weight_rows && backend == Backend::llvm) throw std::logic_error("dot_conv_pipeline: weights arranged for C loops only");
  const int lanes = static_cast<int>(weight_rows ? s.get_int("channel_block") : ws[3]);
  const int width = weight_rows ? (s.args[1].dtype == ir::DType::i16 ? 2 : 4) : static_cast<int>(ws[4]);
  const int cin4 = static_cast<int>(weight_rows ? ws[2] : ws[2] * width), kw = static_cast<int>(kernel[2]), kh = static_cast<int>(kernel[1]);
  const int offset = static_cast<int>(s.get_int("dot_offset")), zp = static_cast<int>(s.get_int("x_zero_point"));
  const int64_t cout = s.result().shape[1];

  ImageParam x = input(s, 0, "x"), w = input(s, 1, "w"), start = input(s, 2, "start"), table = input(s, 3, "rq");
  std::vector<ImageParam> params{x, w, start, table};
  // Byte pairs (saturating_pairs.h): where the plan paired the channels by a matching, the input
  // channel of each slot of the input copy (slots 2j, 2j + 1 a pmaddubsw pair); and with the
  // weights clamped below its saturation, per vector of `lanes` output channels, the positions
  // (slot, kx, ky) of the clamped-off parts and those parts.
  const bool reordered = s.attrs.count("dot_channel_order") != 0;
  const int corrections = s.attrs.count("dot_corrections") ? static_cast<int>(s.get_int("dot_corrections")) : 0;
  ImageParam order, positions, residuals, lengths;
  if (reordered) params.push_back(order = input(s, params.size(), "order"));
  if (corrections > 0) {
    positions = input(s, params.size(), "positions");
    residuals = input(s, params.size() + 1, "residuals");
    lengths = input(s, params.size() + 2, "lengths");
    params.insert(params.end(), {positions, residuals, lengths});
  }
  const int channels = static_cast<int>(s.args[0].shape[1]);
  WindowVars v;
  Func padded = padded_input(s, x, cast(x.type(), zp), v);
  const Var &vx = v.x, &vy = v.y, &vc = v.c, &vn = v.n;
  auto column = [&](Expr kx) { return vx * static_cast<int>(stride[2]) - static_cast<int>(pad[2]) + kx * static_cast<int>(dilation[2]); };
  auto row = [&](Expr ky) { return vy * static_cast<int>(stride[1]) - static_cast<int>(pad[1]) + ky * static_cast<int>(dilation[1]); };
  // The input at a slot of the copy: its channel, in the plan's order where it has one (every slot
  // a channel of the input, which the promise gives bounds inference).
  auto unsigned_input = [&](Expr col, Expr in_row, Expr slot) {
    const Expr channel = reordered ? unsafe_promise_clamped(order(slot), 0, channels - 1) : slot;
    return cast<uint8_t>(cast<int16_t>(padded(col, in_row, 0, channel, vn)) + offset);
  };
  Func acc("acc"), y("conv");
  Var yo("yo"), yi("yi");
  // Output channel c's clamped-off products: entry e of its vector's list, the unsigned input at
  // that position (read by `operand`) times c's residual there (0 where c has none). The plan made
  // every position one of the window's (the promise gives bounds inference the window, no code).
  // Each list is as long as the longest; the entries past its own length are skipped.
  RDom re(0, std::max(corrections, 1), "re");
  if (corrections > 0) re.where(re < lengths(vc / lanes));
  auto clamped_off = [&](Expr c, const std::function<Expr(Expr, Expr, Expr)>& operand) {
    const Expr list = c / lanes;
    auto position = [&](int i, int extent) { return unsafe_promise_clamped(positions(i, re, list), 0, extent - 1); };
    return cast<int32_t>(operand(position(0, channels), position(1, kw), position(2, kh))) *
           cast<int32_t>(residuals(c % lanes, re, list));
  };

  if (backend == Backend::llvm) {
    Func packed("packed");  // (channel, column, row, n): bytes for vpdpbusd, 16-bit for vpmaddwd
    packed(vc, vx, vy, vn) = width == 2 ? cast<int16_t>(unsigned_input(vx, vy, vc)) : unsigned_input(vx, vy, vc);
    RDom r({{0, cin4}, {0, kw}, {0, kh}}, "r");
    acc(vc, vx, vy, vn) = start(vc);
    acc(vc, vx, vy, vn) += cast<int32_t>(packed(r.x, column(r.y), row(r.z), vn)) *
                           cast<int32_t>(w(r.x % width, vc % lanes, r.x / width, r.z * kw + r.y, vc / lanes));
    if (corrections > 0)
      acc(vc, vx, vy, vn) += clamped_off(vc, [&](Expr c, Expr kx, Expr ky) { return packed(c, column(kx), row(ky), vn); });
    y(vx, vy, vc, vn) = conv_result(s, acc(vc, vx, vy, vn), table, s.get_int("rq_axis") >= 0 ? Expr(vc) : Expr(0),
                                    {vx, vy, vc, vn}, backend, params);

    const int vectors = static_cast<int>(s.get_int("dot_channel_vectors")), columns = static_cast<int>(s.get_int("dot_columns"));
    const int block = vectors * lanes, chunk = static_cast<int>(s.get_int("dot_chunk_columns"));
    Var co("co"), ci("ci"), xo("xo"), xi("xi"), xc("xc"), xr("xr");
    y.split(vy, yo, yi, static_cast<int>(s.get_int("dot_tile_rows")))
        .split(vc, co, ci, block, cout % block == 0 ? TailStrategy::RoundUp : TailStrategy::GuardWithIf);
    // Planar results are stored a channel's columns at a time; channels-last ones a vector of a
    // column's channels at a time, as they lie.
    const bool channels_last = s.result().layout == Layout::channels_last;
    Var cv("cv"), cl("cl");
    if (channels_last) y.split(ci, cv, cl, lanes);
    auto block_loops = [&](std::vector<VarOrRVar> outer) {
      std::vector<VarOrRVar> order = channels_last ? std::vector<VarOrRVar>{cl, cv, xi, co} : std::vector<VarOrRVar>{xi, ci, co};
      order.insert(order.end(), outer.begin(), outer.end());
      y.reorder(order);
    };
    if (chunk > 0) {
      // The copy per chunk of whole register blocks (kernel_plan.cpp: no row's copy fits the stack).
      y.split(vx, xc, xr, chunk, TailStrategy::ShiftInwards).split(xr, xo, xi, columns);
      block_loops({xo, yi, xc, yo});
      packed.compute_at(y, xc);
    } else {
      y.split(vx, xo, xi, columns, out[2] % columns == 0 ? TailStrategy::RoundUp : TailStrategy::ShiftInwards);
      block_loops({xo, yi, yo});
      packed.compute_at(y, yo);
    }
    if (channels_last) y.vectorize(cl).unroll(cv).unroll(xi);
    else y.vectorize(xi).unroll(ci);
    packed.store_in(MemoryType::Stack);
    if (cin4 == 4) {
      // A stem conv's few channels (RGB): whole vectors of columns from each plane, interleaved
      // (gathering the 4 channels of each column was 3.6 of MobileNetV2's 15.6 ms on a Zen 3).
      packed.bound(vc, 0, cin4).reorder(vc, vx, vy).unroll(vc).vectorize(vx, lanes * 4 / (width == 2 ? 2 : 1));
    } else {
      // The copy is a transpose (channel planes to channel-innermost), a vector of channels at a
      // time: a gather, but one vector store instead of a store per channel.
      int channel_lanes = 64;
      while (cin4 % channel_lanes != 0) channel_lanes /= 2;
      packed.vectorize(vc, channel_lanes);
    }
    // Channels round up to whole vectors (the weights and start values are padded for it).
    acc.compute_at(y, co).store_in(MemoryType::Stack).vectorize(vc, lanes, TailStrategy::RoundUp).unroll(vc).unroll(vx);
    RVar ro("ro"), ri("ri");
    acc.update()
        .split(r.x, ro, ri, width)
        .reorder(ri, vc, vx, ro, r.y, r.z)
        .atomic()
        .vectorize(ri, width)
        .vectorize(vc, lanes, TailStrategy::RoundUp)
        .unroll(vc)
        .unroll(vx);
    if (s.attrs.count("dot_saturating_pairs")) y.add_custom_lowering_pass(new SaturatingPairs);
    // The clamped-off products a vector of output channels at a time, each running its own list
    // (its length the loop's bound, where it was a test per sum when the entries were outermost),
    // each entry's position decoded once for the block's columns: a vector of residuals, and per
    // column a broadcast of the input, a multiply and an add.
    if (corrections > 0) {
      Var cv("cv"), cl("cl");
      acc.update(1)
          .split(vc, cv, cl, lanes, TailStrategy::RoundUp)
          .reorder(cl, vx, re, cv)
          .vectorize(cl)
          .unroll(vx)
          .unroll(cv);
    }
  } else {
    const int taps = static_cast<int>(ws[1]);
    Var vi("i"), vj("j");
    // The dot product's operands: 16-bit where the target sums pairs (see above).
    auto operand = [&](Expr e) { return width == 2 ? cast<int16_t>(e) : e; };
    Func channel_weights("channel_weights");  // (tap * cin4 + input channel, output channel)
    if (weight_rows) channel_weights(vj, vc) = w(vj % cin4, vj / cin4, vc);
    else channel_weights(vj, vc) = operand(w(vj % width, vc % lanes, vj / width % (cin4 / width), vj / cin4, vc / lanes));
    acc(vx, vy, vc, vn) = start(vc);
    // The C loop's form (kernel_plan.cpp's dot_c_loop): "row", "patch" or "column".
    const std::string form = s.get_string("dot_c_loop");
    Func rows("packed"), patch("patches");
    if (form == "column") rows(vx, vi, vy, vn) = unsigned_input(vx, vy, vi);  // (column, channel, row, n)
    else rows(vi, vy, vn) = operand(unsigned_input(vi / cin4, vy, vi % cin4));  // (column * cin4 + channel, row, n)
    RDom r;
    if (form == "row") {
      // With unit column dilation a kernel row's taps are adjacent, so one loop covers them.
      const bool flat = dilation[2] == 1;
      r = RDom({{0, (flat ? kw : 1) * cin4}, {0, flat ? 1 : kw}, {0, kh}}, "r");
      acc(vx, vy, vc, vn) += c_dot_product(rows(column(r.y) * cin4 + r.x, row(r.z), vn),
                                           channel_weights((r.z * kw + r.y) * cin4 + r.x, vc));
    } else if (form == "patch") {
      patch(vj, vx, vy, vn) = rows(column(vj / cin4 % kw) * cin4 + vj % cin4, row(vj / cin4 / kw), vn);  // (tap * cin4 + channel, ...)
      r = RDom(0, taps * cin4, "r");
      acc(vx, vy, vc, vn) += c_dot_product(patch(r, vx, vy, vn), channel_weights(r, vc));
    } else {
      // The generic conv's form: a channel's sums for the whole tile in an array, each step of
      // the reduction a loop over columns with the weight fixed, over the tile rows copied
      // channel-major. The zero weights padding the input channels to cin4 are skipped.
      r = RDom({{0, channels}, {0, kw}, {0, kh}}, "r");
      acc(vx, vy, vc, vn) += c_dot_product(rows(column(r.y), r.x, row(r.z), vn),
                                           channel_weights((r.z * kw + r.y) * cin4 + r.x, vc));
    }
    if (corrections > 0)
      acc(vx, vy, vc, vn) += clamped_off(vc, [&](Expr c, Expr kx, Expr ky) { return unsigned_input(column(kx), row(ky), c); });
    y(vx, vy, vc, vn) = conv_result(s, acc(vx, vy, vc, vn), table, s.get_int("rq_axis") >= 0 ? Expr(vc) : Expr(0),
                                    {vx, vy, vc, vn}, backend, params);

    y.split(vy, yo, yi, static_cast<int>(s.get_int("tile_rows")));
    rows.compute_at(y, yo).store_in(MemoryType::Stack);
    // Weights in the LLVM order are rearranged into the rows the loops read, once per tile and block
    // of output channels, moving 4 bytes (adjacent in both orders) at a time, without divisions;
    // rows for the C loops are read in place.
    auto rows_of_weights_at = [&](const Var& level) {
      if (weight_rows) return;
      Var tap("tap"), jc("jc"), j4("j4"), ji("ji");
      channel_weights.compute_at(y, level).store_in(MemoryType::Stack).bound(vj, 0, taps * cin4);
      channel_weights.split(vj, tap, jc, cin4).split(jc, j4, ji, 4).vectorize(ji);
    };
    // Blocks of sums (c_dot_block), each block one loop over the operands its sums share (a 3x3
    // conv's sums are hundreds of products).
    const CDotBlock block = c_dot_block(width);
    const int block_channels = static_cast<int>(std::min<int64_t>(block.channels, cout));
    const int block_columns = static_cast<int>(std::min<int64_t>(block.columns, out[2]));
    Var co("co"), ci("ci"), xo("xo"), xi("xi");
    auto channel_blocks = [&] {
      y.split(vc, co, ci, block_channels, cout % block_channels == 0 ? TailStrategy::RoundUp : TailStrategy::GuardWithIf);
    };
    if (form == "patch") {
      // One output row's patches at a time (in L1D), gathered 4 bytes at a time: the patch form
      // is for convs with few input channels, and for bytes.
      Var tap("tap"), c("c"), c4("c4"), c1("c1");
      patch.compute_at(y, yi).store_in(MemoryType::Stack).bound(vj, 0, taps * cin4);
      patch.split(vj, tap, c, cin4).split(c, c4, c1, 4).vectorize(c1);
      if (width == 4) {
        // A block of channels' rows of sums, in blocks of columns, then the requantize (and a
        // fused residual add) a channel's whole row at a time, which gcc vectorizes across the
        // row; after each block of 8 columns it took 2 lanes at a time (ResNet-18's convs with a
        // residual add 1.23 -> 1.02 ms on a Sapphire Rapids, bench_c 17.9 -> 16.7 ms).
        channel_blocks();
        y.reorder(vx, ci, co, yi, yo);
        rows_of_weights_at(co);
        // The row of sums rounded up to whole blocks, every column started at the bias (the last
        // block's extra sums are never stored).
        acc.compute_at(y, co).store_in(MemoryType::Stack).bound(vx, 0, static_cast<int>(round_up(out[2], block_columns)));
        acc.update().split(vx, xo, xi, block_columns, TailStrategy::RoundUp).reorder(xi, vc, r.x, xo).unroll(xi).unroll(vc);
      } else {
        // 16-bit pairs: a channel's row of sums at a time, then its requantize as a loop of its
        // own (blocks were slower on a Zen 3: ResNet-18's 7x7 stem 1.14x; with the requantize
        // inside the column loop, gcc may vectorize that loop instead of the sum).
        y.reorder(vx, vc, yi, yo);
        rows_of_weights_at(vc);
        acc.compute_at(y, vc).store_in(MemoryType::Stack);  // one channel's row
        acc.update().reorder(r.x, vx);
      }
    } else if (form == "row") {
      // A block of channels over the tile's rows (its weights stay in L1D), each block of sums
      // requantized on its own.
      channel_blocks();
      y.split(vx, xo, xi, block_columns, out[2] % block_columns == 0 ? TailStrategy::RoundUp : TailStrategy::ShiftInwards)
          .reorder(xi, ci, xo, yi, co, yo);
      rows_of_weights_at(co);
      acc.compute_at(y, xo).store_in(MemoryType::Stack);
      acc.update().reorder(vx, vc, r.x, r.y, r.z).unroll(vx).unroll(vc);
    } else {
      y.reorder(vx, yi, vc, yo);
      rows_of_weights_at(vc);
      acc.compute_at(y, vc).store_in(MemoryType::Stack);
      acc.update().reorder(vx, r.x, r.y, r.z, vy);
    }
    // The clamped-off products of a plan for host objects too (its C, rarely run): a loop over the
    // columns per entry.
    if (corrections > 0) acc.update(1).reorder(vx, re);
  }
  constrain_output(y, s.result());
  return {y, params};
}

// The pointwise dot-product conv (kernel_plan.cpp: a 1x1 conv of stride 1 without padding, each
// channel plane seen as one row of pixels): a matrix product W[C_out][C_in] X[C_in][pixels] whose
// results are vectors of pixels, stored whole into the output's channel planes. Weights are
// w(ci % 4, ci / 4, co) (16-bit in the pair form); the sum starts at the adjusted bias.
//   LLVM: per tile of pixels, the tile's input channels packed `dot_width` at a time, (ci % width,
//     pixel, ci / width) as unsigned bytes x + offset, on the stack; a register block of channel
//     rows x pixel vectors, each step of the reduction one vpdpbusd per accumulator: the pixel
//     vector of 4 packed input channels times the output channel's 4 weights broadcast. Without
//     VNNI the width is 2 and each step one vpmaddwd: the pixel vector of 2 channels (16-bit in the
//     copy) times the 2 weights broadcast (with 4, Halide splits each 4-product sum across lanes
//     and needs two shuffles per vector to add the halves).
//   C: per block of output channels (or one channel) and tile of pixels, rows of sums on the stack:
//     with many input channels each sum a dot product over a channel-innermost copy of the tile
//     and the channel's weight row ("patch"), else each step of the reduction a loop over the
//     pixels with the weight fixed ("column"). The C compiler vectorizes either loop.
KernelPipeline pointwise_dot_conv_pipeline(const KernelSpec& s, Backend backend) {
  // The weight rows may be longer than C_in rounded up to 4 (kernel_plan.cpp: the C loop's length).
  const int cin = static_cast<int>(s.args[0].shape[1]), cin4 = (cin + 3) / 4 * 4;
  const int64_t pixels = s.result().shape[3], cout = s.result().shape[1];
  // x + offset is unsigned; the start value took the offset and the zero point out of the sum.
  const int offset = static_cast<int>(s.get_int("dot_offset"));
  ImageParam x = input(s, 0, "x"), w = input(s, 1, "w"), start = input(s, 2, "start"), table = input(s, 3, "rq");
  std::vector<ImageParam> params{x, w, start, table};
  Var p("p"), row("row"), c("c"), n("n"), i("i"), k("k");
  auto unsigned_input = [&](Expr channel) { return cast<uint8_t>(cast<int16_t>(x(p, 0, channel, n)) + offset); };
  Func acc("acc"), y("conv");
  acc(p, c, n) = start(c);
  auto result = [&] {
    y(p, row, c, n) = conv_result(s, acc(p, c, n), table, s.get_int("rq_axis") >= 0 ? Expr(c) : Expr(0), {p, row, c, n},
                                  backend, params);
    constrain_output(y, s.result());
    return KernelPipeline{y, params};
  };

  Var pt("pt"), pi("pi");
  if (backend == Backend::llvm) {
    // The input through a packed copy (channels past C_in, whose weights are zero, read the last
    // channel, so the tile stays in bounds).
    const int width = static_cast<int>(s.get_int("dot_width"));
    Func packed("packed");  // (ci % width, pixel, ci / width, n)
    // In the pair form both operands are 16-bit in memory (the input in its copy, the weights as
    // planned), so that each step is a load, a 32-bit broadcast and vpmaddwd, without widening
    // either (MobileNetV2's 1x1 convs on a Zen 3: 11.7 -> 8.8 ms with the input alone).
    Expr in = unsigned_input(min(k * width + i, cin - 1));
    packed(i, p, k, n) = width == 2 ? cast<int16_t>(in) : in;
    RDom r(0, cin4, "r");
    acc(p, c, n) += cast<int32_t>(packed(r % width, p, r / width, n)) * cast<int32_t>(w(r % 4, r / 4, c));
    KernelPipeline pipeline = result();
    const int lanes = static_cast<int>(s.get_int("channel_block")), vectors = static_cast<int>(s.get_int("dot_pixel_vectors"));
    const int rows = static_cast<int>(s.get_int("dot_channel_rows")), tile = static_cast<int>(s.get_int("dot_pixel_tile"));
    Var pb("pb"), pv("pv"), co("co"), ci("ci");
    y.split(p, pt, pi, tile, pixels % tile == 0 ? TailStrategy::RoundUp : TailStrategy::ShiftInwards)
        .split(pi, pb, pv, lanes * vectors, tile % (lanes * vectors) == 0 ? TailStrategy::RoundUp : TailStrategy::ShiftInwards)
        .split(c, co, ci, rows, cout % rows == 0 ? TailStrategy::RoundUp : TailStrategy::GuardWithIf)
        .reorder(pv, ci, pb, co, pt, row, n)
        .vectorize(pv)
        .unroll(ci);
    packed.compute_at(y, pt).store_in(MemoryType::Stack).reorder(i, p, k, n).vectorize(i).vectorize(p, lanes);
    acc.compute_at(y, pb).store_in(MemoryType::Stack).vectorize(p, lanes).unroll(p).unroll(c);
    RVar ro("ro"), ri("ri");
    acc.update()
        .split(r, ro, ri, width)
        .reorder(ri, p, c, ro)
        .atomic()
        .vectorize(ri, width)
        .vectorize(p, lanes)
        .unroll(p)
        .unroll(c);
    return pipeline;
  }
  // C, the form kernel_plan.cpp chose (dot_c_loop): "patch" or "column".
  auto split_tiles = [&] {
    y.split(p, pt, pi, static_cast<int>(s.get_int("dot_c_pixel_tile")), TailStrategy::ShiftInwards).reorder(pi, c, pt, row, n);
  };
  if (s.get_string("dot_c_loop") == "patch") {
    // Each output's sum over its pixel's input channels, adjacent both in a copy of the tile
    // (channel-innermost) and in the output channel's weight row, both zero from C_in to a whole
    // number of vectors (so the loop has no remainder): gcc's loop vectorizer makes the dot
    // product of it, of bytes, or of 16-bit operands in the pair form (whose weights are 16-bit:
    // from bytes gcc would widen each product instead of using vpmaddwd). The copy fills its zeros
    // first, then copies C_in channels: no per-element test.
    const int channels = static_cast<int>(s.get_int("dot_c_channels"));
    const Type operand = w.type().bits() == 16 ? Int(16) : UInt(8);
    Func patch("patches");  // (channel, pixel, n)
    RDom rc(0, cin, "rc"), r(0, channels, "r");
    patch(k, p, n) = cast(operand, 0);
    patch(rc, p, n) = cast(operand, unsigned_input(rc));
    acc(p, c, n) += c_dot_product(patch(r, p, n), w(r % 4, r / 4, c));
    KernelPipeline pipeline = result();
    // A block of output channels' rows of sums, each step of the loop over pixels one block of
    // sums (c_dot_block; MobileNetV2's 1x1 convs on a Zen 3, with the weights read in place:
    // 12.0 -> 10.8 ms), then the block's requantize as loops of their own (see the dot-product conv).
    const CDotBlock block = c_dot_block(w.type().bits() == 16 ? 2 : 4);
    const int block_channels = static_cast<int>(std::min<int64_t>(block.channels, cout)), block_pixels = block.columns;
    Var co("co"), ci("ci"), xo("xo"), xi("xi");
    y.split(p, pt, pi, static_cast<int>(s.get_int("dot_c_pixel_tile")), TailStrategy::ShiftInwards)
        .split(c, co, ci, block_channels, cout % block_channels == 0 ? TailStrategy::RoundUp : TailStrategy::GuardWithIf)
        .reorder(pi, ci, co, pt, row, n);
    patch.compute_at(y, pt).store_in(MemoryType::Stack).bound(k, 0, channels);
    acc.compute_at(y, co).store_in(MemoryType::Stack);
    acc.update().split(p, xo, xi, block_pixels, TailStrategy::GuardWithIf).reorder(xi, c, r, xo).unroll(xi).unroll(c);
    return pipeline;
  }
  // Per output channel, a row of sums on the stack, each step of the reduction a loop over the
  // pixels with the weight fixed (the C compiler vectorizes it), reading the input where it is.
  RDom r(0, cin, "r");
  acc(p, c, n) += c_dot_product(unsigned_input(r), w(r % 4, r / 4, c));
  KernelPipeline pipeline = result();
  split_tiles();
  acc.compute_at(y, c).store_in(MemoryType::Stack);
  acc.update().reorder(p, r);
  return pipeline;
}

// The depthwise conv of a small plane in C (kernel_plan.cpp's c_plane_width): one channel's plane
// at a time. Its padded input is copied as one flat array whose rows are Wp = c_plane_width apart,
// so that output (x, y) reads tap (kx, ky) at s·q + ky·dy·Wp + kx·dx with q = y·Wp + x: the sums,
// and their requantize, are each one loop over q (computing Wp − out_cols sums per row that are
// never stored), which the C compiler vectorizes; rows of 7 or 14 columns would be loops that it
// unrolls and leaves scalar. The output rows are then copied out of the flat result.
KernelPipeline depthwise_plane_pipeline(const KernelSpec& s) {
  const auto &kernel = s.get_ints("win_kernel"), &stride = s.get_ints("win_stride"), &pad = s.get_ints("win_pad"),
             &dilation = s.get_ints("win_dilation"), &in = s.get_ints("win_in");
  const bool has_bias = s.get_int("has_bias") != 0;
  const int block = static_cast<int>(s.get_int("channel_block")), zp = static_cast<int>(s.get_int("x_zero_point"));
  const int width = static_cast<int>(s.get_int("c_plane_width")), step = static_cast<int>(stride[2]);
  const int out_per_group = static_cast<int>(s.result().shape[1] / s.get_int("group"));
  ImageParam x = input(s, 0, "x"), w = input(s, 1, "w");
  ImageParam bias = has_bias ? input(s, 2, "bias") : ImageParam();
  ImageParam table = input(s, has_bias ? 3 : 2, "rq");

  Var i("i"), q("q"), c("c"), n("n"), vx("x"), vy("y");
  Func flat("padded");  // (flat padded position, input channel, n)
  flat(i, c, n) = cast(x.type(), zp);
  RDom rin({{0, static_cast<int>(in[2])}, {0, static_cast<int>(in[1])}}, "rin");
  flat((rin.y + static_cast<int>(pad[1])) * width + static_cast<int>(pad[2]) + rin.x, c, n) = x(rin.x, rin.y, c, n);

  const Type acc_type = halide_type(s.get_int("acc_bits") == 64 ? ir::DType::i64 : ir::DType::i32);
  const bool narrow = ir::bit_width(s.args[0].dtype) == 8 && ir::bit_width(s.args[1].dtype) == 8;
  const Type product_type = narrow ? Int(16) : Int(32);
  RDom r({{0, static_cast<int>(kernel[2])}, {0, static_cast<int>(kernel[1])}}, "r");
  Expr tap = flat(q * step + r.y * static_cast<int>(dilation[1]) * width + r.x * static_cast<int>(dilation[2]), c / out_per_group, n);
  Func acc("acc"), rq("rq"), y("conv");
  acc(q, c, n) = has_bias ? cast(acc_type, bias(c)) : cast(acc_type, 0);
  acc(q, c, n) += cast(acc_type, (cast(product_type, tap) - cast(product_type, zp)) *
                                     cast(product_type, w(c % block, r.x, r.y, 0, 0, c / block)));
  rq(q, c, n) = requantize(s, acc(q, c, n), table, s.get_int("rq_axis") >= 0 ? Expr(c) : Expr(0), Backend::c);
  y(vx, vy, c, n) = rq(vy * width + vx, c, n);
  constrain_output(y, s.result());

  for (Func f : {flat, acc, rq}) f.compute_at(y, c).store_in(MemoryType::Stack);
  acc.update().reorder(q, r.x, r.y);
  return {y, has_bias ? std::vector<ImageParam>{x, w, bias, table} : std::vector<ImageParam>{x, w, table}};
}

}  // namespace

KernelPipeline conv_pipeline(const KernelSpec& s, Backend backend) {
  if (s.attrs.count("dot_pixel_tile")) return pointwise_dot_conv_pipeline(s, backend);
  if (s.attrs.count("dot")) return dot_conv_pipeline(s, backend);
  if (backend == Backend::c && s.attrs.count("c_plane_width")) return depthwise_plane_pipeline(s);
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
  std::vector<ImageParam> params = has_bias ? std::vector<ImageParam>{x, w, bias, table} : std::vector<ImageParam>{x, w, table};

  WindowVars v;
  // The padded input a tile reads is copied once per tile, or (kernel_plan.cpp's padded_copy)
  // where that copy would leave the stack, once per output vector with the channel block's
  // outputs inside, or not at all (read through the bounds test).
  // A conv between channels-last tensors (kernel_plan.cpp gave it block_columns) reads its input in
  // place, through the bounds test: it is one per pixel and tap, the same for a vector of channels.
  const bool channels_last = backend == Backend::llvm && s.attrs.count("block_columns");
  const std::string copy = channels_last                  ? "none"
                           : s.attrs.count("padded_copy") ? s.get_string("padded_copy")
                                                          : "tile";
  // A tile's copy fills its rows and copies their whole interior (padded_copy; the C schedule's
  // copy always, per tile). The host's copy per output vector is the bounds-tested input computed
  // over that vector's window alone: padded_copy's whole rows would make it the tile's size (24 KiB,
  // on the heap, for a 3x3 conv of 64 16-bit channels 60 columns wide).
  const bool row_copy = copy == "tile" || (backend == Backend::c && copy == "vector");
  Func padded = row_copy ? padded_copy(s, x, cast(x.type(), static_cast<int>(zp)), v)
                         : padded_input(s, x, cast(x.type(), static_cast<int>(zp)), v);

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
  // 8-bit operands multiply in 16 bits (|x - zp| <= 255 times |w| <= 128 fits), which the vector
  // unit does twice as wide and widens pairwise into the 32-bit sums (vpmaddwd).
  const bool narrow = ir::bit_width(s.args[0].dtype) == 8 && ir::bit_width(s.args[1].dtype) == 8;
  const Type product_type = narrow ? Int(16) : Int(32);
  Expr product = (cast(product_type, padded(tap_position(s, v, r, ic))) - cast(product_type, static_cast<int>(zp))) *
                 cast(product_type, wv);
  acc(vx, vy, vz, vc, vn) += cast(acc_type, product);

  Func y("conv");
  const std::vector<Var> at = v.result(spatial);
  y(at) = conv_result(s, acc(vx, v.y_or_0(spatial), v.z_or_0(spatial), vc, vn), table, s.get_int("rq_axis") >= 0 ? Expr(vc) : Expr(0),
                      exprs(at), backend, params);
  constrain_output(y, s.result());

  const int lanes = static_cast<int>(s.get_int("lanes"));
  Var co("co"), ci("ci"), yo("yo"), yi("yi"), xo("xo"), xi("xi");
  if (channels_last) {
    // One pixel's sums for a channel block in registers over the whole window (a depthwise conv's
    // taps unrolled): each tap one load of adjacent channels and of the block's adjacent weights.
    // A few columns per block share each tap's weights.
    const int columns = static_cast<int>(std::min(s.get_int("block_columns"), out[2]));
    y.split(vc, co, ci, static_cast<int>(block))
        .split(vx, xo, xi, columns, out[2] % columns == 0 ? TailStrategy::RoundUp : TailStrategy::ShiftInwards)
        .reorder(ci, xi, co, xo, vy)
        .vectorize(ci)
        .unroll(xi);
    acc.compute_at(y, co).vectorize(vc).unroll(vx);
    acc.update().reorder(vc, vx, r[0], r[1], r[2], r[3]).vectorize(vc).unroll(vx).unroll(r[0]);
    if (kernel[1] * kernel[2] <= 25) acc.update().unroll(r[1]);
    return {y, params};
  }
  y.split(vc, co, ci, static_cast<int>(block));
  if (backend == Backend::llvm) {
    // One output vector's sums in registers over the whole window (the kernel's taps unrolled,
    // the input channels of a group looped), read from the tile's padded input copy: a depthwise
    // conv is a few vector multiply-adds per output vector and one store.
    if (lanes > 1) y.split(vx, xo, xi, lanes, out[2] % lanes == 0 ? TailStrategy::RoundUp : TailStrategy::ShiftInwards).vectorize(xi);
    else y.split(vx, xo, xi, 1);
    const bool per_vector = copy != "tile";
    if (spatial >= 2) {
      y.split(vy, yo, yi, static_cast<int>(s.get_int("tile_rows")));
      if (per_vector) y.reorder(xi, ci, xo, yi, yo);
      else y.reorder(xi, xo, yi, ci, yo);
    } else if (per_vector) y.reorder(xi, ci, xo, co);
    else y.reorder(xi, xo, ci, co);
    acc.compute_at(y, per_vector ? ci : xo);
    acc.update().reorder(vx, r[0], r[1], r[2], r[3]).unroll(r[0]);
    if (kernel[1] * kernel[2] <= 25) acc.update().unroll(r[1]);
    // Reading the copy past the row end is safe (it is sized to what is read), so its vectors
    // round up.
    if (copy == "tile") {
      padded.compute_at(y, spatial >= 2 ? yo : co).store_in(MemoryType::Stack);
      vectorize_padded_copy(padded, lanes);
    } else if (copy == "vector") {
      padded.compute_at(y, xo).store_in(MemoryType::Stack);
      if (lanes > 1) padded.vectorize(padded.args()[0], lanes, TailStrategy::RoundUp);
    }
    if (lanes > 1) acc.vectorize(vx, lanes).update().vectorize(vx, lanes);
    return {y, params};
  }
  if (spatial >= 2) {
    y.split(vy, yo, yi, static_cast<int>(s.get_int("tile_rows"))).reorder(vx, ci, yi, yo);
    acc.compute_at(y, yo);
  } else {
    y.reorder(vx, ci, co);
    acc.compute_at(y, co);
  }
  acc.store_in(MemoryType::Stack);
  // The padded input rows a tile reads, copied once per tile.
  padded.compute_at(y, spatial >= 2 ? yo : co).store_in(MemoryType::Stack);
  acc.update().reorder(vx, vc, r[0], r[1], r[2], r[3], vy, vz, vn);
  return {y, params};
}

}  // namespace qatc::codegen::hl
