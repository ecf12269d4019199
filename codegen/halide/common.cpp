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
void constrain(Dims dim_of, const ir::Shape& shape) {
  int stride = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    const int extent = static_cast<int>(shape[shape.size() - 1 - d]);
    dim_of(static_cast<int>(d)).set_bounds(0, extent).set_stride(stride);
    stride *= extent;
  }
}

}  // namespace

ImageParam input(const KernelSpec& s, size_t i, const std::string& name) {
  const ArgSpec& a = s.args[i];
  ImageParam p(halide_type(a.dtype), static_cast<int>(a.shape.size()), name);
  constrain([&](int d) { return p.dim(d); }, a.shape);
  return p;
}

void constrain_output(Func& f, const ArgSpec& a) {
  constrain([&](int d) { return f.output_buffer().dim(d); }, a.shape);
}

std::vector<Var> vars(const std::string& prefix, size_t count) {
  std::vector<Var> v;
  for (size_t i = 0; i < count; ++i) v.emplace_back(prefix + std::to_string(i));
  return v;
}

std::vector<Expr> exprs(const std::vector<Var>& v) { return {v.begin(), v.end()}; }

Expr round_floored(const std::string& rule, Expr floor, Expr cmp) {
  Expr up;
  if (rule == "half_even") up = cmp > 0 || (cmp == 0 && (floor & 1) == 1);
  else if (rule == "half_up") up = cmp >= 0;
  else if (rule == "half_away") up = cmp > 0 || (cmp == 0 && floor >= 0);
  else if (rule == "floor") up = Internal::const_false();
  else throw std::logic_error("unknown rounding rule " + rule);
  return floor + select(up, cast(floor.type(), 1), cast(floor.type(), 0));
}

Expr requantize(const KernelSpec& s, Expr acc, const ImageParam& table, Expr c) {
  Expr shift = table(0, c), bias = cast<int64_t>(table(1, c)), phi = table(2, c);
  Expr v = cast<int64_t>(acc);
  // n >= 1: floor((v + bias + φ) / 2^n); only φ > 0 matters, at an exact half (a sticky bit).
  Expr n = cast<int64_t>(max(shift, 1));
  Expr numerator = v + bias;
  Expr right_floor = numerator >> n;
  Expr rem = numerator - (right_floor << n), half = cast<int64_t>(1) << (n - 1);
  Expr right_cmp = select(rem < half, -1, rem > half || phi != 0, 1, 0);
  // n <= 0: v · 2^-n + bias, plus φ whose class alone decides the rounding.
  Expr left_floor = (v << cast<int64_t>(max(-shift, 0))) + bias;
  Expr left_cmp = select(phi <= 1, -1, phi == 2, 0, 1);
  Expr r = round_floored(s.get_string("rq_round"), select(shift >= 1, right_floor, left_floor),
                         select(shift >= 1, right_cmp, left_cmp));
  r = clamp(r + Expr(s.get_int("rq_zero_point")), Expr(s.get_int("rq_min")), Expr(s.get_int("rq_max")));
  return cast(halide_type(s.result().dtype), r);
}

void vectorize_pure(Func f, const Var& v, int64_t extent, int lanes) {
  if (lanes <= 1) return;
  f.vectorize(v, lanes, extent % lanes == 0 ? TailStrategy::RoundUp : TailStrategy::ShiftInwards);
}

}  // namespace qatc::codegen::hl
