#include "passes/integer_form.h"

#include "ir/error.h"
#include "passes/quant_propagation.h"
#include "passes/requantize_builder.h"
#include "sim/qat/window.h"

#include <algorithm>
#include <bit>
#include <numeric>
#include <utility>

namespace qatc::passes {

using sim::Exact;

namespace {

const Exact kZero = Exact::from_int(0);

bool is_zero(const Exact& v) { return sim::compare(v, kZero) == 0; }
Exact magnitude(const Exact& v) { return v.negative() ? sim::sub(kZero, v) : v; }
const Exact& at(const std::vector<Exact>& v, int64_t c) { return AffineChain::at(v, c); }

// v as an integer factor of at most 31 bits, if it is one.
std::optional<int64_t> small_integer(const Exact& v) {
  if (v.den != 1) return std::nullopt;
  const sim::BinaryParts p = sim::decompose(v.num);
  if (p.odd == 0) return 0;
  if (p.exp < 0 || sim::bit_length(p.odd) + p.exp > 31) return std::nullopt;
  const auto m = static_cast<int64_t>(p.odd) << p.exp;
  return p.negative ? -m : m;
}

// The greatest unit every one of `units` is an integer multiple of (the coarsest grid holding
// them all), if there is one.
std::optional<Exact> common_unit_of(const std::vector<Exact>& units) {
  std::optional<Exact> g = magnitude(units.at(0));
  for (const Exact& u : units)
    if (g) g = common_unit(*g, magnitude(u));
  return g;
}

// Each unit as an integer multiple of `g` (signed), or nullopt if one needs more than 31 bits.
std::optional<std::vector<int64_t>> factors_of(const std::vector<Exact>& units, const Exact& g) {
  std::vector<int64_t> m;
  for (const Exact& u : units)
    if (auto k = small_integer(sim::div(u, g))) m.push_back(*k);
    else return std::nullopt;
  return m;
}

// A list of per-channel values with one entry when all are equal.
template <class T>
std::vector<T> compressed(std::vector<T> v) {
  if (std::all_of(v.begin(), v.end(), [&](const T& x) {
        if constexpr (std::is_same_v<T, Exact>) return sim::compare(x, v[0]) == 0;
        else return x == v[0];
      }))
    v.resize(1);
  return v;
}

std::vector<Exact> scales_of(const ir::QuantParams& q) {
  std::vector<Exact> s;
  for (double v : q.scales) s.push_back(Exact::from_double(v));
  return s;
}

// Weights with zero points other than 0 are stored zero-centred, in i16 if i8 cannot hold them.
ir::Value* zero_centred(ir::Graph& g, ir::Value* w, int axis) {
  const ir::QuantParams& q = *w->type.quant;
  if (std::all_of(q.zero_points.begin(), q.zero_points.end(), [](int64_t z) { return z == 0; })) return w;
  const ir::Shape& s = w->type.shape;
  int64_t inner = 1;
  for (size_t i = axis + 1; i < s.size(); ++i) inner *= s[i];
  std::vector<int64_t> v(w->data->size());
  int64_t lo = 0, hi = 0;
  for (int64_t i = 0; i < w->data->size(); ++i) {
    int64_t zp = q.per_axis() ? q.zero_points[(i / inner) % s[axis]] : q.zero_points[0];
    v[i] = w->data->int_at(i) - zp;
    lo = std::min(lo, v[i]);
    hi = std::max(hi, v[i]);
  }
  bool fits_i8 = lo >= -128 && hi <= 127;
  ir::TensorData data(fits_i8 ? ir::DType::i8 : ir::DType::i16, s);
  for (size_t i = 0; i < v.size(); ++i) {
    if (fits_i8) data.as<int8_t>()[i] = static_cast<int8_t>(v[i]);
    else data.as<int16_t>()[i] = static_cast<int16_t>(v[i]);
  }
  return g.add_constant(g.unique_name(w->name + "/centred"), std::move(data));
}

// The one count every window of an average pool divides by, if all windows share it.
std::optional<int64_t> uniform_count(const ir::Op& pool) {
  const sim::Window win = sim::make_window(pool, pool.inputs[0]->type.shape, pool.get_ints("kernel_shape"));
  const bool include_pad = pool.get_int("count_include_pad") != 0;
  std::optional<int64_t> count;
  bool uniform = true;
  win.for_each_output([&](int64_t o0, int64_t o1, int64_t o2, int64_t) {
    const int64_t c = win.average_count(o0, o1, o2, include_pad);
    if (count && c != *count) uniform = false;
    count = c;
  });
  if (!uniform || !count || *count == 0) return std::nullopt;
  return count;
}

// The axis two forms' per-channel lists share, or an Error naming `op`.
int shared_axis(int a, int b, const ir::Op& op) {
  if (a >= 0 && b >= 0 && a != b) fail("{}: its operands' grids vary along axes {} and {}", op.describe(), a, b);
  return std::max(a, b);
}

// --allow-non-pot: a constant that lies on no grid within 2^24 of its operand's is rounded onto a grid
// 2^8 times finer (an error of at most 1/512 step, which verify measures), as the Q31 multipliers round.
constexpr int64_t kApproximateFineFactor = 1 << 8;

}  // namespace

ir::Value* dequantized(const ir::Value* v, const ir::Op& user, std::string_view role) {
  if (!v->producer || v->producer->kind != ir::OpKind::dequantize)
    fail("{}: its {} '{}' is not a dequantized integer tensor, so it has no integer form", user.describe(), role, v->name);
  return v->producer->inputs[0];
}

std::optional<Exact> common_unit(const Exact& a, const Exact& b) {
  const sim::BinaryParts pa = sim::decompose(a.num), pb = sim::decompose(b.num);
  sim::u128 odd = pa.odd, other = pb.odd;
  while (other) odd = std::exchange(other, odd % other);
  const uint64_t g = std::gcd(a.den, b.den);
  const sim::u128 lcm = static_cast<sim::u128>(a.den / g) * b.den;
  if (lcm >= (sim::u128{1} << 63)) return std::nullopt;
  return sim::div(Exact::from_scaled(static_cast<sim::i128>(odd), std::min(pa.exp, pb.exp)),
                  Exact::from_int(static_cast<int64_t>(lcm)));
}

IntegerForm IntegerForms::of(ir::Value* v, const ir::Op& user, const std::string& name) {
  if (auto it = forms_.find(v); it != forms_.end()) return it->second;
  IntegerForm f = build(v, user, name);
  forms_.emplace(v, f);
  return f;
}

IntegerForm IntegerForms::build(ir::Value* v, const ir::Op& user, const std::string& name) {
  using K = ir::OpKind;
  const ir::Op* p = v->producer;
  if (!p)
    fail("{}: reads '{}', a float tensor no quantizer rounds, so it has no integer form", user.describe(), v->name);
  switch (p->kind) {
    case K::dequantize: return leaf(*p);
    case K::conv:
    case K::matmul: return product(*p, name);
    case K::add:
    case K::sub:
    case K::mul:
    case K::div:
      if (exact_constant(*p->inputs[0]) || exact_constant(*p->inputs[1])) return constant_step(*p, name);
      if (p->kind == K::add || p->kind == K::sub) return sum(*p, name);
      if (p->kind == K::mul) return activation_product(*p, name);
      fail("{}: divides by an activation, which no integer grid holds exactly", p->describe());
    case K::relu:
    case K::clip: return activation(*p, name);
    case K::maxpool:
    case K::pad:
    case K::reshape:
    case K::transpose:
    case K::slice:
    case K::resize: return moved(*p, name);
    case K::avgpool: return pooled_sums(*p, name);
    case K::concat: return joined(*p, name);
    case K::leaky_relu:
    case K::elu:
    case K::sigmoid:
    case K::tanh:
    case K::erf:
    case K::exp:
    case K::log:
    case K::softplus:
      fail("{}: a nonlinear function whose region (up to {}) reads more than one quantized tensor or other ops, so "
           "neither a lookup table nor an integer grid holds it",
           p->describe(), user.describe());
    default: fail("{}: has no integer form (it feeds {})", p->describe(), user.describe());
  }
}

IntegerForm IntegerForms::leaf(const ir::Op& dequantize) {
  ir::Value* q = dequantize.inputs[0];
  const ir::QuantParams& qp = *q->type.quant;
  if (std::any_of(qp.zero_points.begin(), qp.zero_points.end(), [&](int64_t z) { return z != qp.zero_points[0]; }))
    fail("{}: per-axis zero points are not supported here", dequantize.describe());
  return {q, qp.zero_points[0], 0, qp.per_axis() ? qp.axis : -1, scales_of(qp), {kZero}};
}

IntegerForm IntegerForms::widened(const IntegerForm& f, const std::string& name) {
  if (f.x->type.dtype == ir::DType::i32 && !f.x->type.quant && f.zero_point == 0 && f.shift == 0) return f;
  IntegerForm w = f;
  ir::TensorType t{ir::DType::i32, f.x->type.shape, std::nullopt};
  w.x = g_.add_op(ir::OpKind::widen, {f.x}, {{g_.unique_name(name), t}},
                  {{"shift", int64_t{f.shift}}, {"zero_point", f.zero_point}})->outputs[0];
  w.zero_point = 0;
  w.shift = 0;
  return w;
}

ir::Value* IntegerForms::channel_constant(const std::string& name, const std::vector<int64_t>& v, int axis, size_t rank) {
  ir::Shape shape{static_cast<int64_t>(v.size())};
  if (v.size() > 1)
    for (size_t d = static_cast<size_t>(axis) + 1; d < rank; ++d) shape.push_back(1);
  ir::TensorData data(ir::DType::i32, shape);
  for (size_t i = 0; i < v.size(); ++i) data.as<int32_t>()[i] = static_cast<int32_t>(v[i]);
  return g_.add_constant(g_.unique_name(name), std::move(data));
}

IntegerForm IntegerForms::scaled(IntegerForm f, const std::vector<int64_t>& m, int axis, const ir::Op& user,
                                 const std::string& name) {
  const std::vector<int64_t> factors = compressed(m);
  const int64_t m0 = factors[0];
  if (factors.size() == 1 && m0 == 1) return f;
  std::vector<Exact> unit;
  const int unit_axis = factors.size() > 1 ? shared_axis(f.axis, axis, user) : f.axis;
  const int64_t n = std::max<int64_t>(static_cast<int64_t>(factors.size()), static_cast<int64_t>(f.unit.size()));
  for (int64_t c = 0; c < n; ++c)
    unit.push_back(sim::div(at(f.unit, c), Exact::from_int(factors.size() == 1 ? m0 : factors[c])));
  if (factors.size() == 1 && m0 > 0 && (m0 & (m0 - 1)) == 0) {  // a power of two: one more bit of shift
    f.shift += std::countr_zero(static_cast<uint64_t>(m0));
  } else {
    f = widened(f, name + "/wide");
    ir::Value* k = channel_constant(name + "/factor", factors, unit_axis, f.x->type.shape.size());
    ir::TensorType t{ir::DType::i32, ir::broadcast_shapes(f.x->type.shape, k->type.shape, user), std::nullopt};
    f.x = g_.add_op(ir::OpKind::mul, {f.x, k}, {{g_.unique_name(name + "/scaled"), t}}, {}, user.name)->outputs[0];
  }
  f.axis = unit_axis;
  f.unit = compressed(std::move(unit));
  return f;
}

IntegerForm IntegerForms::positive(const IntegerForm& f, const ir::Op& user, const std::string& name) {
  std::vector<int64_t> sign;
  for (const Exact& u : f.unit) sign.push_back(u.negative() ? -1 : 1);
  return scaled(f, sign, f.axis, user, name + "/negated");
}

IntegerForm IntegerForms::holding(IntegerForm f, const std::vector<Exact>& points, const ir::Op& user,
                                  const std::string& name) {
  const int64_t n = std::max<int64_t>(static_cast<int64_t>(points.size()), static_cast<int64_t>(f.unit.size()));
  std::vector<int64_t> m;
  for (int64_t c = 0; c < n; ++c) {
    const Exact unit = magnitude(at(f.unit, c)), point = magnitude(at(points, c));
    if (is_zero(point)) {
      m.push_back(1);
      continue;
    }
    const auto g = common_unit(unit, point);
    const auto factor = g ? small_integer(sim::div(unit, *g)) : std::nullopt;
    // 2^24: a finer grid than that leaves an int32 tensor no room for the values themselves.
    const bool too_fine = !factor || *factor > (1 << 24);
    if (too_fine && options_.allow_non_pot) {
      m.push_back(kApproximateFineFactor);
      continue;
    }
    if (too_fine)
      fail("{}: the constant {} lies between the points of its operand's grid (step {}), and a grid holding both is "
           "more than 2^24 times finer",
           user.describe(), at(points, c).approximate_double(), unit.approximate_double());
    m.push_back(*factor);
  }
  const int axis = f.axis;
  return scaled(std::move(f), m, axis, user, name);
}

int64_t IntegerForms::grid_steps(const Exact& v, const Exact& unit, const ir::Op& user) const {
  const Exact steps = sim::div(v, unit);
  if (auto k = small_integer(steps)) return *k;
  const double approximate = steps.approximate_double();
  if (!options_.allow_non_pot || std::fabs(approximate) >= 0x1p31)
    fail("{}: the constant {} lies 2^31 or more grid steps (of {}) from zero", user.describe(),
         v.approximate_double(), unit.approximate_double());
  return static_cast<int64_t>(std::nearbyint(approximate));  // rounded: --allow-non-pot (kApproximateFineFactor)
}

IntegerForm IntegerForms::on_grid(IntegerForm f, const ir::Op& user, const std::string& name) {
  if (std::all_of(f.offset.begin(), f.offset.end(), is_zero)) return f;
  const std::vector<Exact> offset = f.offset;
  f = widened(holding(std::move(f), offset, user, name + "/fine"), name + "/wide");
  std::vector<int64_t> steps;
  for (int64_t c = 0; c < static_cast<int64_t>(std::max(f.offset.size(), f.unit.size())); ++c) {
    steps.push_back(grid_steps(at(f.offset, c), at(f.unit, c), user));
  }
  ir::Value* k = channel_constant(name + "/offset", compressed(steps), f.axis, f.x->type.shape.size());
  f.x = g_.add_op(ir::OpKind::add, {f.x, k}, {{g_.unique_name(name + "/shifted"), f.x->type}}, {}, user.name)->outputs[0];
  f.offset = {kZero};
  return f;
}

IntegerForm IntegerForms::per_tensor(IntegerForm f, const ir::Op& user, const std::string& name) {
  if (f.unit.size() == 1) return f;
  const auto g = common_unit_of(f.unit);
  if (!g) fail("{}: its channels' grids have no common grid", user.describe());
  const auto m = factors_of(f.unit, *g);
  if (!m) fail("{}: putting its channels on one grid needs factors beyond 2^31", user.describe());
  const int axis = f.axis;
  return scaled(std::move(f), *m, axis, user, name + "/aligned");
}

IntegerForm IntegerForms::uniform(IntegerForm f, const ir::Op& user, const std::string& name) {
  f = per_tensor(on_grid(std::move(f), user, name), user, name);
  f.axis = -1;
  return f;
}

IntegerForm IntegerForms::product(const ir::Op& p, const std::string& name) {
  IntegerForm in = of(p.inputs[0], p, p.inputs[0]->name + "/int");
  in = per_tensor(on_grid(std::move(in), p, name + "/input"), p, name + "/input");
  // 8/16-bit activations feed the product as they are (it subtracts their zero point).
  if (in.shift != 0 || (!in.x->type.quant && in.x->type.dtype != ir::DType::i32)) in = widened(in, name + "/input");
  ir::Value* w = dequantized(p.inputs[1], p, "weight");
  if (!w->is_constant()) fail("{}: the weight '{}' must be a constant to be lowered", p.describe(), w->name);
  const ir::QuantParams& wq = *w->type.quant;
  const bool is_conv = p.kind == ir::OpKind::conv;
  const int weight_axis = is_conv ? 0 : static_cast<int>(w->type.shape.size()) - 1;  // output channels
  const int out_axis = is_conv ? 1 : static_cast<int>(p.outputs[0]->type.shape.size()) - 1;
  if (wq.per_axis() && wq.axis != weight_axis)
    fail("{}: the weight is quantized per slice of axis {}, not per output channel", p.describe(), wq.axis);

  std::map<std::string, ir::AttrValue> attrs = p.attrs;
  if (in.zero_point != 0) attrs["x_zero_point"] = in.zero_point;
  ir::TensorType acc_type{ir::DType::i32, p.outputs[0]->type.shape, std::nullopt};
  ir::Value* acc = g_.add_op(p.kind, {in.x, zero_centred(g_, w, weight_axis)}, {{g_.unique_name(name + "/acc"), acc_type}},
                             attrs, p.name)->outputs[0];
  IntegerForm out{acc, 0, 0, wq.per_axis() ? out_axis : -1, {}, {kZero}};
  for (const Exact& sw : scales_of(wq)) out.unit.push_back(sim::mul(in.unit[0], sw));
  if (is_conv && p.inputs.size() == 3) {  // the bias: a per-channel offset
    auto bias = exact_constant(*p.inputs[2]);
    if (!bias) fail("{}: the bias '{}' must be a constant", p.describe(), p.inputs[2]->name);
    out.axis = out_axis;
    out.offset = compressed(*bias);
  }
  return out;
}

IntegerForm IntegerForms::constant_step(const ir::Op& p, const std::string& name) {
  using K = ir::OpKind;
  const bool constant_first = exact_constant(*p.inputs[0]).has_value();
  ir::Value* u = p.inputs[constant_first ? 1 : 0];
  const ir::Value* k = p.inputs[constant_first ? 0 : 1];
  if (constant_first && p.kind == K::div) fail("{}: divides a constant by an activation, which has no integer form", p.describe());
  if (p.outputs[0]->type.shape != u->type.shape)
    fail("{}: its constant '{}' broadcasts '{}' to a larger shape", p.describe(), k->name, u->name);
  IntegerForm f = of(u, p, u->name + "/int");
  const int k_axis = varying_axis(p, *k, *u);
  if (k_axis >= 0 && f.axis >= 0 && k_axis != f.axis) f = uniform(std::move(f), p, name);
  const int axis = std::max(f.axis, k_axis);
  const std::vector<Exact> kv = *exact_constant(*k);
  const int64_t n = axis < 0 ? 1 : u->type.shape[static_cast<size_t>(axis)];
  std::vector<Exact> unit, offset;
  for (int64_t c = 0; c < n; ++c) {
    const Exact &a = at(f.unit, c), &b = at(f.offset, c), &kc = kv.size() == 1 ? kv[0] : kv[c];
    switch (p.kind) {
      case K::add: unit.push_back(a), offset.push_back(sim::add(b, kc)); break;
      case K::sub:  // x − k, or k − x: the sign of the unit flips
        unit.push_back(constant_first ? sim::sub(kZero, a) : a);
        offset.push_back(constant_first ? sim::sub(kc, b) : sim::sub(b, kc));
        break;
      case K::mul: unit.push_back(sim::mul(a, kc)), offset.push_back(sim::mul(b, kc)); break;
      default:
        if (is_zero(kc)) fail("{}: divides by zero", p.describe());
        unit.push_back(sim::div(a, kc)), offset.push_back(sim::div(b, kc));
    }
    if (is_zero(unit.back()))
      fail("{}: multiplies channel {} by zero, so its result no longer depends on '{}'", p.describe(), c, u->name);
  }
  f.axis = axis;
  f.unit = compressed(std::move(unit));
  f.offset = compressed(std::move(offset));
  return f;  // a constant step changes the grid only: no op
}

IntegerForm IntegerForms::sum(const ir::Op& p, const std::string& name) {
  ir::Value *a = p.inputs[0], *b = p.inputs[1];
  IntegerForm fa = of(a, p, a->name + "/int"), fb = of(b, p, b->name + "/int");
  const ir::Shape& shape = p.outputs[0]->type.shape;
  if ((fa.axis >= 0 || fb.axis >= 0) && (a->type.shape.size() != shape.size() || b->type.shape.size() != shape.size()))
    fail("{}: broadcasting across ranks with per-channel grids is not supported", p.describe());
  if (fa.axis >= 0 && fb.axis >= 0 && fa.axis != fb.axis) fb = uniform(std::move(fb), p, name + "/rhs");
  if (options_.allow_non_pot) align_non_pot(fa, fb, p, name);
  const int axis = std::max(fa.axis, fb.axis);
  const int64_t n = axis < 0 ? 1 : shape[static_cast<size_t>(axis)];
  std::vector<int64_t> ma, mb;
  std::vector<Exact> unit, offset;
  for (int64_t c = 0; c < n; ++c) {
    const Exact &ua = at(fa.unit, c), &ub = at(fb.unit, c);
    const auto g = common_unit_of({ua, ub});
    const auto m = g ? factors_of({ua, ub}, *g) : std::nullopt;
    if (!m)
      fail("{}: its operands' grids (steps {} and {}) have no common grid within a factor of 2^31", p.describe(),
           ua.approximate_double(), ub.approximate_double());
    ma.push_back((*m)[0]);
    mb.push_back((*m)[1]);
    unit.push_back(*g);
    offset.push_back(p.kind == ir::OpKind::add ? sim::add(at(fa.offset, c), at(fb.offset, c))
                                               : sim::sub(at(fa.offset, c), at(fb.offset, c)));
  }
  fa = widened(scaled(std::move(fa), ma, axis, p, name + "/lhs"), name + "/lhs");
  fb = widened(scaled(std::move(fb), mb, axis, p, name + "/rhs"), name + "/rhs");
  ir::TensorType t{ir::DType::i32, shape, std::nullopt};
  ir::Value* s = g_.add_op(p.kind, {fa.x, fb.x}, {{g_.unique_name(name + "/sum"), t}}, {}, p.name)->outputs[0];
  return {s, 0, 0, axis, compressed(std::move(unit)), compressed(std::move(offset))};
}

IntegerForm IntegerForms::activation_product(const ir::Op& p, const std::string& name) {
  ir::Value *a = p.inputs[0], *b = p.inputs[1];
  IntegerForm fa = of(a, p, a->name + "/int"), fb = of(b, p, b->name + "/int");
  const ir::Shape& shape = p.outputs[0]->type.shape;
  // Channels survive only where both operands index them along the same axis of the result.
  if (a->type.shape.size() != shape.size() || b->type.shape.size() != shape.size() ||
      (fa.axis >= 0 && fb.axis >= 0 && fa.axis != fb.axis)) {
    fa = uniform(std::move(fa), p, name + "/lhs");
    fb = uniform(std::move(fb), p, name + "/rhs");
  }
  fa = widened(on_grid(std::move(fa), p, name + "/lhs"), name + "/lhs");
  fb = widened(on_grid(std::move(fb), p, name + "/rhs"), name + "/rhs");
  const int axis = std::max(fa.axis, fb.axis);
  std::vector<Exact> unit;
  for (int64_t c = 0; c < (axis < 0 ? 1 : shape[static_cast<size_t>(axis)]); ++c)
    unit.push_back(sim::mul(at(fa.unit, c), at(fb.unit, c)));
  ir::TensorType t{ir::DType::i32, shape, std::nullopt};
  ir::Value* product = g_.add_op(ir::OpKind::mul, {fa.x, fb.x}, {{g_.unique_name(name + "/product"), t}}, {}, p.name)->outputs[0];
  return {product, 0, 0, axis, compressed(std::move(unit)), {kZero}};
}

void IntegerForms::align_non_pot(IntegerForm& fa, IntegerForm& fb, const ir::Op& p, const std::string& name) {
  const int64_t n = std::max({fa.unit.size(), fb.unit.size()});
  bool near = true;  // every channel's grids meet within 16-bit factors: the exact alignment below
  for (int64_t c = 0; c < n && near; ++c) {
    const Exact ua = magnitude(at(fa.unit, c)), ub = magnitude(at(fb.unit, c));
    const auto g = common_unit_of({ua, ub});
    const auto m = g ? factors_of({ua, ub}, *g) : std::nullopt;
    near = m && (*m)[0] <= (1 << 16) && (*m)[1] <= (1 << 16);
  }
  if (near) return;
  auto largest = [](const IntegerForm& f) {
    Exact u = magnitude(f.unit[0]);
    for (const Exact& v : f.unit)
      if (sim::compare(magnitude(v), u) > 0) u = magnitude(v);
    return u;
  };
  const bool a_coarser = sim::compare(largest(fa), largest(fb)) > 0;
  IntegerForm& coarse = a_coarser ? fa : fb;
  IntegerForm& fine = a_coarser ? fb : fa;
  const std::string coarse_name = name + (a_coarser ? "/lhs" : "/rhs"), fine_name = name + (a_coarser ? "/rhs" : "/lhs");
  // Grids with no common grid a 16-bit factor reaches (0.1f and 0.3f have 2^-27). Two quantized
  // operands both move onto 2^-19 of the coarser step, the coarser exactly, the finer by a Q31
  // requantize, as TFLite aligns an add's operands; a quantized operand beside a wider value (a
  // conv's accumulator) moves onto that value's finer grid, channel by channel.
  if (coarse.unit.size() == 1 && fine.unit.size() == 1 && fine.x->type.quant)
    fine = rescaled(fine, {sim::mul(largest(coarse), Exact::from_scaled(1, -19))}, -1, p, fine_name);
  else if (coarse.x->type.quant)
    coarse = rescaled(coarse, fine.unit, fine.axis, p, coarse_name);
  else
    fail("{}: --allow-non-pot aligns a sum's operands by requantizing a quantized one onto the other's grid, and "
         "neither '{}' nor '{}' is a quantized tensor",
         p.describe(), fa.x->name, fb.x->name);
}

IntegerForm IntegerForms::rescaled(const IntegerForm& f, const std::vector<Exact>& unit, int axis, const ir::Op& user,
                                   const std::string& name) {
  const IntegerForm w = widened(positive(f, user, name), name + "/wide");
  // Differences of b-bit integers times the largest ratio of source to target step must stay below
  // 2^27: a 28-bit result saturates nothing, and the sum fits 32 bits.
  const int bits = (f.x->type.quant ? f.x->type.quant->bits : 32) + f.shift;
  const int64_t n = std::max<int64_t>(static_cast<int64_t>(unit.size()), static_cast<int64_t>(w.unit.size()));
  std::vector<double> steps;
  for (int64_t c = 0; c < n; ++c) {
    const Exact ratio = sim::div(at(w.unit, c), magnitude(at(unit, c)));
    if (sim::compare(ratio, Exact::from_scaled(1, 27 - bits)) > 0)
      fail("{}: --allow-non-pot would move '{}' onto a grid {} times finer, beyond 32 bits", user.describe(), f.x->name,
           ratio.approximate_double());
    if (unit.size() > 1 || c == 0) {
      const auto step = magnitude(at(unit, c)).exact_double();
      if (!step) fail("{}: the common grid of its operands is no double", user.describe());
      steps.push_back(*step);
    }
  }
  const int target_axis = unit.size() > 1 ? axis : -1;
  ir::Value target;  // the result type of a quantize that is not in the graph
  target.name = g_.unique_name(name + "/rescaled");
  target.type = {ir::DType::i32, f.x->type.shape,
                 ir::QuantParams{steps, std::vector<int64_t>(steps.size(), 0), target_axis, 28, true}};
  ir::Op quantize{ir::OpKind::quantize, user.name, {}, {&target}, {{"round", std::string("half_even")}}};
  ir::Value* x = emit_requantize(g_, {w.x, w.unit, w.axis}, AffineChain{}, quantize, options_, target.name);
  // The offsets stay where they were, along f's axis; the units are the target's.
  IntegerForm r{x, 0, 0, target_axis >= 0 ? target_axis : f.axis, {}, f.offset};
  for (const Exact& u : unit) r.unit.push_back(magnitude(u));
  return r;
}

IntegerForm IntegerForms::activation(const ir::Op& p, const std::string& name) {
  ir::Value* in = p.inputs[0];
  IntegerForm f = positive(on_grid(of(in, p, in->name + "/int"), p, name), p, name);
  std::optional<Exact> lo, hi;
  if (p.kind == ir::OpKind::relu) lo = kZero;
  if (p.has("min")) lo = Exact::from_double(p.get_float("min"));
  if (p.has("max")) hi = Exact::from_double(p.get_float("max"));
  std::vector<Exact> points;
  for (const auto& bound : {lo, hi})
    if (bound && !is_zero(*bound)) points.push_back(*bound);
  if (!points.empty()) f = per_tensor(std::move(f), p, name);  // one integer bound for every channel
  for (const Exact& point : points) f = holding(std::move(f), {point}, p, name + "/fine");
  f = widened(f, name + "/wide");
  std::map<std::string, ir::AttrValue> attrs;
  if (lo) attrs["min"] = static_cast<double>(grid_steps(*lo, f.unit[0], p));
  if (hi) attrs["max"] = static_cast<double>(grid_steps(*hi, f.unit[0], p));
  f.x = g_.add_op(ir::OpKind::clip, {f.x}, {{g_.unique_name(name + "/clip"), f.x->type}}, attrs, p.name)->outputs[0];
  return f;
}

IntegerForm IntegerForms::pooled_sums(const ir::Op& p, const std::string& name) {
  ir::Value* in = p.inputs[0];
  auto count = uniform_count(p);
  if (!count)
    fail("{}: its windows divide by different counts (padding not counted), so its unquantized mean has no "
         "integer form: quantize the pool's result",
         p.describe());
  // Padding counts as real zeros: the offset goes onto the integers first.
  IntegerForm f = on_grid(of(in, p, in->name + "/int"), p, name);
  if (f.axis > 1) f = per_tensor(std::move(f), p, name);  // windows mix the slices of a spatial axis
  // The pool subtracts a quantized operand's own zero point (per tensor); anything else is widened.
  const bool as_is = f.x->type.quant && !f.x->type.quant->per_axis();
  if (!as_is) f = widened(f, name + "/wide");
  ir::TensorType sums{ir::DType::i32, p.outputs[0]->type.shape, std::nullopt};
  f.x = g_.add_op(ir::OpKind::avgpool, {f.x}, {{g_.unique_name(p.outputs[0]->name + "/sums"), sums}}, p.attrs, p.name)
            ->outputs[0];
  f.zero_point = 0;  // subtracted by the pool; a pending shift stays pending (it scales every sum alike)
  for (Exact& u : f.unit) u = sim::div(u, Exact::from_int(*count));
  return f;
}

IntegerForm IntegerForms::moved(const ir::Op& p, const std::string& name) {
  using K = ir::OpKind;
  ir::Value* in = p.inputs[0];
  IntegerForm f = of(in, p, in->name + "/int");
  std::map<std::string, ir::AttrValue> attrs = p.attrs;
  // MaxPool commutes with an increasing map (padding never wins), so only the sign matters; a
  // constant pad creates values, which must lie on the grid with the rest.
  if (p.kind == K::maxpool) f = positive(f, p, name);
  const bool constant_pad = p.kind == K::pad && p.get_string("mode") == "constant";
  if (constant_pad) {
    const Exact value = Exact::from_double(p.get_float("value"));
    f = on_grid(std::move(f), p, name);
    if (!is_zero(value)) f = holding(per_tensor(std::move(f), p, name), {value}, p, name + "/fine");
    f = widened(f, name + "/wide");
    attrs["value"] = static_cast<double>(grid_steps(value, f.unit[0], p));
  }
  std::optional<MovedAxis> axis;
  if (f.axis >= 0) {
    axis = moved_axis(p, in->type.shape, f.axis);
    if (!axis) f = per_tensor(on_grid(std::move(f), p, name), p, name);  // the op mixes the channels
  }
  ir::TensorType t{f.x->type.dtype, p.outputs[0]->type.shape, std::nullopt};
  if (f.x->type.quant) {
    t.quant = propagated_quant(p, {f.x});
    if (!t.quant) f = widened(f, name + "/wide"), t.dtype = ir::DType::i32;
  }
  f.x = g_.add_op(p.kind, {f.x}, {{g_.unique_name(name + "/" + std::string(p.info().name)), t}}, attrs, p.name)->outputs[0];
  if (axis) {
    auto pick = [&](const std::vector<Exact>& v) {
      if (v.size() == 1) return v;
      std::vector<Exact> out;
      for (int64_t from : axis->from) out.push_back(v[static_cast<size_t>(from)]);
      return out;
    };
    f.unit = pick(f.unit);
    f.offset = pick(f.offset);
    f.axis = axis->axis;
  } else if (f.axis >= 0) {
    f.axis = -1;  // one unit, offset 0 (made so above)
  }
  return f;
}

IntegerForm IntegerForms::joined(const ir::Op& p, const std::string& name) {
  const int axis = static_cast<int>(p.get_int("axis"));
  std::vector<IntegerForm> parts;
  for (ir::Value* v : p.inputs) parts.push_back(of(v, p, v->name + "/int"));
  const bool along_channels = std::all_of(parts.begin(), parts.end(), [&](const IntegerForm& f) { return f.axis < 0 || f.axis == axis; });
  std::vector<Exact> unit, offset;
  if (along_channels) {  // each part keeps its grid: the lists are joined as the slices are
    for (size_t i = 0; i < parts.size(); ++i) {
      parts[i] = widened(parts[i], name + "/part" + std::to_string(i));
      for (int64_t c = 0; c < p.inputs[i]->type.shape[static_cast<size_t>(axis)]; ++c) {
        unit.push_back(at(parts[i].unit, c));
        offset.push_back(at(parts[i].offset, c));
      }
    }
  } else {  // one grid for all: the greatest unit every part's unit is a multiple of
    std::vector<Exact> units;
    for (auto& f : parts) {
      f = per_tensor(on_grid(std::move(f), p, name), p, name);
      units.push_back(f.unit[0]);
    }
    const auto g = common_unit_of(units);
    if (!g) fail("{}: its operands have no common grid", p.describe());
    const auto m = factors_of(units, *g);
    if (!m) fail("{}: putting its operands on one grid needs factors beyond 2^31", p.describe());
    for (size_t i = 0; i < parts.size(); ++i)
      parts[i] = widened(scaled(std::move(parts[i]), {(*m)[i]}, -1, p, name + "/part" + std::to_string(i)),
                         name + "/part" + std::to_string(i));
    unit = {*g};
    offset = {kZero};
  }
  std::vector<ir::Value*> xs;
  for (const auto& f : parts) xs.push_back(f.x);
  ir::TensorType t{ir::DType::i32, p.outputs[0]->type.shape, std::nullopt};
  ir::Value* x = g_.add_op(ir::OpKind::concat, xs, {{g_.unique_name(name + "/concat"), t}}, p.attrs, p.name)->outputs[0];
  IntegerForm out{x, 0, 0, axis, compressed(std::move(unit)), compressed(std::move(offset))};
  if (out.unit.size() == 1 && out.offset.size() == 1) out.axis = -1;  // one grid after all
  return out;
}

}  // namespace qatc::passes
