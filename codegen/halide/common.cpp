#include "codegen/halide/pipeline.h"

namespace qatc::codegen::hl {

using namespace Halide;

Type halide_type(ir::DType t) {
  switch (t) {
    case ir::DType::i8: return Int(8);
    case ir::DType::u8: return UInt(8);
    case ir::DType::i16: return Int(16);
    case ir::DType::u16: return UInt(16);
    case ir::DType::i32: return Int(32);
    case ir::DType::i64: return Int(64);
    case ir::DType::f32: return Float(32);
    case ir::DType::f64: return Float(64);
  }
  __builtin_unreachable();
}

namespace {

template <class Dims>
void constrain(Dims dim_of, const ArgSpec& a) {
  const std::vector<int64_t> strides = a.strides();
  for (size_t d = 0; d < a.shape.size(); ++d) {
    const size_t axis = a.shape.size() - 1 - d;
    dim_of(static_cast<int>(d)).set_bounds(0, static_cast<int>(a.shape[axis])).set_stride(static_cast<int>(strides[axis]));
  }
}

}  // namespace

ImageParam input(const KernelSpec& s, size_t i, const std::string& name) {
  const ArgSpec& a = s.args[i];
  ImageParam p(halide_type(a.dtype), static_cast<int>(a.shape.size()), name);
  constrain([&](int d) { return p.dim(d); }, a);
  return p;
}

void constrain_output(Func& f, const ArgSpec& a) {
  constrain([&](int d) { return f.output_buffer().dim(d); }, a);
}

std::vector<Var> vars(const std::string& prefix, size_t count) {
  std::vector<Var> v;
  for (size_t i = 0; i < count; ++i) v.emplace_back(prefix + std::to_string(i));
  return v;
}

std::vector<Expr> exprs(const std::vector<Var>& v) { return {v.begin(), v.end()}; }

Expr round_floored(const std::string& rule, Expr floor, Expr cmp) {
  const Expr one = cast(floor.type(), 1), zero = cast(floor.type(), 0);
  // half_even adds an exact half's parity bit as a number: gcc's vectorizer refuses the boolean
  // form ((floor & 1) == 1 becomes a 1-bit type), which left generated C scalar.
  if (rule == "half_even") return floor + select(cmp > 0, one, cmp == 0, floor & one, zero);
  Expr up;
  if (rule == "half_up") up = cmp >= 0;
  else if (rule == "half_away") up = cmp > 0 || (cmp == 0 && floor >= 0);
  else if (rule == "floor") up = Internal::const_false();
  else throw std::logic_error("unknown rounding rule " + rule);
  return floor + select(up, one, zero);
}

namespace {

// The table requantize() reads: in C a copy on the stack. The C compiler must assume that the
// result's 8-bit stores may alias the table's memory, so it would reload the table for every
// element and leave the loop scalar; a local array cannot be aliased. A channels-last result is
// requantized a vector of channels at a time: its copy holds each field's channels adjacent, so
// that a vector of shifts is one load rather than a gather.
Func requantize_table(const ImageParam& table, Backend backend, bool channels_last) {
  if (backend == Backend::llvm && !channels_last) return table;
  Func local("rq_table");
  Var i("i"), c("c");
  local(i, c) = table(i, c);
  local.compute_root().store_in(MemoryType::Stack);
  if (channels_last) local.reorder_storage(c, i);
  return local;
}

// floor(numerator / 2^n) for n >= 1 (unsigned, of the numerator's width: Halide expands a signed
// shift amount into both directions), and -1, 0, +1 as the rest is below, at or above one half,
// with φ != 0 (a sticky bit) lifting an exact half above.
std::pair<Expr, Expr> shifted_right(Expr numerator, Expr n, Expr phi) {
  const Expr one = cast(numerator.type(), 1);
  Expr rem = numerator & ((one << n) - one), half = one << (n - cast(n.type(), 1));
  return {numerator >> n, select(rem < half, -1, rem > half || phi != 0, 1, 0)};
}

}  // namespace

std::pair<Expr, Expr> divided(Expr numerator, Expr divisor, Expr phi) {
  // Halide's signed division rounds down and its remainder is never negative. With the rest r,
  // 2r + 2φ against the divisor decides the side of one half.
  Expr k = divisor - 2 * (numerator % divisor);
  return {numerator / divisor,
          select(k >= 2, -1, k == 1, select(phi <= 1, -1, phi == 2, 0, 1), k == 0, select(phi == 0, 0, 1), 1)};
}

Expr requantize_unconverted(const KernelSpec& s, const std::string& prefix, Expr acc, const ImageParam& rows, Expr c,
                             Backend backend) {
  auto attr = [&](const char* name) { return prefix + "_" + name; };
  Func table = requantize_table(rows, backend, s.result().layout == Layout::channels_last);
  Expr shift = table(0, c), phi = table(2, c), floor, cmp, rounded;
  // Where the plan proved every shift in 1..30 and |acc| + |bias| < 2^31, all of it in 32 bits,
  // twice the lanes per vector. In C only the add-and-shift form (rq_headroom): gcc 12 leaves the
  // 32-bit floor-and-compare form scalar ("relevant stmt not supported"), and vectorizes the
  // 64-bit one.
  if (s.attrs.count(attr("divisor"))) {
    // (acc + bias + φ) / (D · 2^n), or (acc · 2^-n + bias + φ) / D: with the rest r of the integer
    // numerator, 2r + 2φ against the divisor decides the side of one half (sim/int/requantize.cpp).
    Expr v = cast<int64_t>(acc), bias = cast<int64_t>(table(1, c)), d = cast<int64_t>(table(3, c));
    Expr numerator = select(shift >= 1, v + bias, shift_left(v, max(-shift, 0)) + bias);
    std::tie(floor, cmp) = divided(numerator, d << cast<uint64_t>(max(shift, 0)), phi);
  } else if (s.attrs.count(attr("headroom")) && s.get_string(attr("round")) != "half_away") {
    // t = acc + bias (+ φ, a sticky fraction) rounds as floor((t + h) / 2^n) with h one half, less
    // one where an exact half rounds down: half_even's even floors when φ = 0. All in 32 bits.
    Expr t = acc + table(1, c), n = cast<uint32_t>(shift);
    Expr half = Expr(1) << (n - 1);
    const std::string& rule = s.get_string(attr("round"));
    Expr h = rule == "floor" ? Expr(0) : rule == "half_up" ? half : half - 1 + (((t >> n) | min(phi, 1)) & 1);
    rounded = (t + h) >> n;
  } else if (s.attrs.count(attr("narrow")) && backend == Backend::llvm) {
    std::tie(floor, cmp) = shifted_right(acc + table(1, c), cast<uint32_t>(shift), phi);
  } else if (s.attrs.count(attr("right_shift"))) {
    // Exact 64-bit arithmetic where every channel shifts right: floor((v + bias + φ) / 2^n), φ
    // only a sticky bit. Without the left shifts' branch, gcc vectorizes it.
    std::tie(floor, cmp) = shifted_right(cast<int64_t>(acc) + cast<int64_t>(table(1, c)), cast<uint64_t>(shift), phi);
  } else {
    // Exact 64-bit arithmetic. n >= 1: floor((v + bias + φ) / 2^n), φ only a sticky bit.
    Expr v = cast<int64_t>(acc), bias = cast<int64_t>(table(1, c));
    auto [right_floor, right_cmp] = shifted_right(v + bias, cast<uint64_t>(max(shift, 1)), phi);
    // n <= 0: v · 2^-n + bias, plus φ whose class alone decides the rounding.
    Expr left_floor = shift_left(v, max(-shift, 0)) + bias;
    Expr left_cmp = select(phi <= 1, -1, phi == 2, 0, 1);
    floor = select(shift >= 1, right_floor, left_floor);
    cmp = select(shift >= 1, right_cmp, left_cmp);
  }
  if (!rounded.defined()) rounded = round_floored(s.get_string(attr("round")), floor, cmp);
  const Type t = rounded.type();
  Expr r = rounded + cast(t, Expr(s.get_int(attr("zero_point"))));
  return clamp(r, cast(t, Expr(s.get_int(attr("min")))), cast(t, Expr(s.get_int(attr("max")))));
}

Expr requantize(const KernelSpec& s, Expr acc, const ImageParam& rows, Expr c, Backend backend) {
  return cast(halide_type(s.result().dtype), requantize_unconverted(s, "rq", acc, rows, c, backend));
}

Expr conv_result(const KernelSpec& s, Expr acc, const ImageParam& table, Expr c, const std::vector<Expr>& at,
                 Backend backend, std::vector<ImageParam>& params) {
  if (!s.attrs.count("residual")) return requantize(s, acc, table, c, backend);
  // The add's operands on their common grid, summed in 32 bits: the range analysis proved the
  // sum (and so each shifted operand) fits int32, as for the standalone fused sum (requantize.cpp).
  const size_t first = params.size();
  params.push_back(input(s, first, "skip"));
  params.push_back(input(s, first + 1, "rq2"));
  Expr sum = on_common_grid(s, "residual_conv", cast<int32_t>(requantize_unconverted(s, "rq", acc, table, c, backend))) +
             on_common_grid(s, "residual_skip", cast<int32_t>(params[first](at)));
  Expr c2 = s.get_int("rq2_axis") >= 0 ? c : Expr(0);
  return cast(halide_type(s.result().dtype), requantize_unconverted(s, "rq2", sum, params[first + 1], c2, backend));
}

Expr on_common_grid(const KernelSpec& s, const std::string& operand, Expr v) {
  return shift_left(v - cast(v.type(), Expr(s.get_int(operand + "_zero_point"))), static_cast<int>(s.get_int(operand + "_shift")));
}

Expr broadcast_read(const ImageParam& p, const ir::Shape& shape, const std::vector<Var>& v) {
  std::vector<Expr> at;
  for (size_t d = 0; d < shape.size(); ++d) at.push_back(shape[shape.size() - 1 - d] == 1 ? Expr(0) : Expr(v[d]));
  return p(at);
}

size_t dense_axes(const KernelSpec& s, size_t operands) {
  const ir::Shape& shape = s.result().shape;
  // Per operand, whether it is read element by element (1) or broadcast (0) along the axes so far;
  // -1 before an axis decided it (along an axis of extent 1 both hold).
  std::vector<int> reads(operands, -1);
  size_t dense = 0;
  for (; dense < shape.size(); ++dense) {
    const int64_t extent = shape[shape.size() - 1 - dense];
    if (extent == 1) continue;
    bool fits = true;
    for (size_t i = 0; i < operands; ++i) {
      const ir::Shape& a = s.args[i].shape;
      const int mode = dense < a.size() && a[a.size() - 1 - dense] == extent ? 1 : 0;
      fits = fits && (reads[i] == -1 || reads[i] == mode);
      reads[i] = mode;
    }
    if (!fits) break;
  }
  return dense;
}

Expr shift_left(Expr v, Expr n) {
  const Type unsigned_type = v.type().with_code(Type::UInt);
  return cast(v.type(), cast(unsigned_type, v) << cast(unsigned_type, n));
}

std::vector<Var> WindowVars::result(size_t spatial) const {
  std::vector<Var> v{x};
  if (spatial >= 2) v.push_back(y);
  if (spatial >= 3) v.push_back(z);
  v.push_back(c);
  v.push_back(n);
  return v;
}

Expr WindowVars::y_or_0(size_t spatial) const { return spatial >= 2 ? Expr(y) : Expr(0); }
Expr WindowVars::z_or_0(size_t spatial) const { return spatial >= 3 ? Expr(z) : Expr(0); }

namespace {

// Input 0 of a window op at 5-D coordinates (x, y, z, c, n).
Func input_5d(const KernelSpec& s, const ImageParam& x, const WindowVars& v) {
  Func x5("x5");
  x5(v.x, v.y, v.z, v.c, v.n) = x(exprs(v.result(s.args[0].shape.size() - 2)));
  return x5;
}

}  // namespace

Func padded_input(const KernelSpec& s, const ImageParam& x, Expr fill, const WindowVars& v) {
  const ir::Shape& shape = s.args[0].shape;
  const auto& in = s.get_ints("win_in");
  return BoundaryConditions::constant_exterior(
      input_5d(s, x, v), fill,
      {{0, static_cast<int>(in[2])}, {0, static_cast<int>(in[1])}, {0, static_cast<int>(in[0])},
       {0, static_cast<int>(shape[1])}, {0, static_cast<int>(shape[0])}});
}

Func padded_copy(const KernelSpec& s, const ImageParam& x, Expr fill, const WindowVars& v) {
  const auto& in = s.get_ints("win_in");
  Func x5 = input_5d(s, x, v), copy("padded");
  copy(v.x, v.y, v.z, v.c, v.n) = fill;
  // Every row's interior, over the input's whole width: the row's condition does not depend on
  // the column, so the loop over columns is a plain (vectorizable) copy or fill.
  RDom r(0, static_cast<int>(in[2]), "r");  // vectorize_padded_copy schedules r$x by name
  const int rows = static_cast<int>(in[1]), depth = static_cast<int>(in[0]);
  Expr inside = v.y >= 0 && v.y < rows && v.z >= 0 && v.z < depth;
  copy(r, v.y, v.z, v.c, v.n) = select(inside, x5(r, clamp(v.y, 0, rows - 1), clamp(v.z, 0, depth - 1), v.c, v.n), fill);
  return copy;
}

void vectorize_padded_copy(Func copy, int lanes) {
  if (lanes <= 1) return;
  // The copy reads past nothing (its size is what it holds); the interior's last vector is guarded.
  copy.vectorize(copy.args()[0], lanes, TailStrategy::RoundUp).update().vectorize(RVar("r$x"), lanes, TailStrategy::GuardWithIf);
}

std::vector<Expr> tap_position(const KernelSpec& s, const WindowVars& v, const RDom& r, Expr c) {
  const auto &stride = s.get_ints("win_stride"), &pad = s.get_ints("win_pad"), &dilation = s.get_ints("win_dilation");
  // Window axis a (0 = depth, 2 = width) is Halide's 2 - a.
  auto at = [&](size_t a, Expr o, Expr k) {
    return o * static_cast<int>(stride[a]) - static_cast<int>(pad[a]) + k * static_cast<int>(dilation[a]);
  };
  return {at(2, v.x, r[0]), at(1, v.y, r[1]), at(0, v.z, r[2]), c, v.n};
}

void vectorize_pure(Func f, const Var& v, int64_t extent, int lanes) {
  if (lanes <= 1) return;
  f.vectorize(v, lanes, extent % lanes == 0 ? TailStrategy::RoundUp : TailStrategy::ShiftInwards);
}

void vectorize_innermost(const KernelSpec& s, Func f, const std::vector<Var>& v, Backend backend, size_t dense) {
  if (v.empty()) return;
  if (s.result().layout == Layout::channels_last) {
    // Channels innermost, as they lie: a loop the C compiler vectorizes, or vectors of channels.
    const Var c = v[v.size() - 2];
    std::vector<VarOrRVar> order{c};
    for (const Var& d : v)
      if (d.name() != c.name()) order.emplace_back(d);
    f.reorder(order);
    if (backend == Backend::llvm) vectorize_pure(f, c, s.result().shape[1], static_cast<int>(s.get_int("lanes")));
    return;
  }
  if (backend == Backend::llvm) {
    vectorize_pure(f, v[0], s.result().shape.back(), static_cast<int>(s.get_int("lanes")));
    return;
  }
  // C: the `dense` innermost axes as one loop, so that short rows (a 7x7 or 28x28 plane) still
  // make a loop long enough for the C compiler's vectors.
  Var inner = v[0];
  for (size_t d = 1; d < std::min(dense, v.size()); ++d) {
    Var fused("f" + std::to_string(d));
    f.fuse(inner, v[d], fused);
    inner = fused;
  }
}

}  // namespace qatc::codegen::hl
