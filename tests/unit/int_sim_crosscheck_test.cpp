// Two independent implementations of the integer conv, matmul and maxpool must agree exactly: the
// integer simulator (sim/int: im2col and a blocked product in native types) and the QAT
// evaluator's integer path (sim/qat IntArith: a direct loop in int64/int128), on random shapes,
// strides, dilations, groups, pads, zero points and element types. Where one refuses (an
// accumulator that does not fit, a window entirely in the padding), so must the other.
#include "ir/error.h"
#include "ir/graph.h"
#include "ir/text.h"
#include "ir/verifier.h"
#include "sim/int/simulator.h"
#include "sim/qat/evaluator.h"

#include <catch2/catch.hpp>

#include <random>

using namespace qatc;

namespace {

class Random {
 public:
  explicit Random(uint32_t seed) : gen_(seed) {}
  int64_t between(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(gen_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(gen_); }
  template <class T>
  const T& pick(const std::vector<T>& v) { return v[static_cast<size_t>(between(0, static_cast<int64_t>(v.size()) - 1))]; }

  ir::TensorData data(ir::DType t, const ir::Shape& shape) {
    ir::TensorData d(t, shape);
    ir::visit_dtype(t, [&](auto v) {
      using T = decltype(v);
      if constexpr (std::is_integral_v<T>)
        for (T& e : d.as<T>()) e = static_cast<T>(between(ir::int_min(t), ir::int_max(t)));
    });
    return d;
  }

 private:
  std::mt19937 gen_;
};

using Ints = std::vector<int64_t>;

// One random sliding window per spatial axis, whose output has at least one position.
struct Windows {
  Ints in, kernel, strides, dilations, pads;  // pads: all begins, then all ends
};

Windows random_windows(Random& r, int64_t spatial, int64_t max_kernel) {
  Windows w;
  Ints ends;
  for (int64_t i = 0; i < spatial; ++i) {
    w.kernel.push_back(r.between(1, max_kernel));
    w.strides.push_back(r.between(1, 3));
    w.dilations.push_back(r.between(1, 2));
    w.pads.push_back(r.between(0, w.kernel.back() - 1));
    ends.push_back(r.between(0, w.kernel.back() - 1));
    const int64_t span = (w.kernel.back() - 1) * w.dilations.back() + 1;
    w.in.push_back(r.between(std::max<int64_t>(1, span - w.pads.back() - ends.back()), 9));
  }
  w.pads.insert(w.pads.end(), ends.begin(), ends.end());
  return w;
}

// Adds op(inputs) to g as its output, typed by the op's own shape rule.
void add_output_op(ir::Graph& g, ir::OpKind kind, std::vector<ir::Value*> inputs, ir::DType result,
                   std::map<std::string, ir::AttrValue> attrs) {
  ir::Op* op = g.add_op(kind, std::move(inputs), {{"y", {result, {}, std::nullopt}}}, std::move(attrs));
  op->outputs[0]->type.shape = op->info().infer_shape(*op);
  g.add_output(op->outputs[0]);
}

// The result type: i32 for 8-bit operands, mostly i64 for 16-bit ones (i32 sometimes, to see both
// refuse the same overflows).
ir::DType accumulator(Random& r, ir::DType a, ir::DType b) {
  if (ir::bit_width(a) == 8 && ir::bit_width(b) == 8) return ir::DType::i32;
  return r.chance(0.8) ? ir::DType::i64 : ir::DType::i32;
}

int64_t random_zero_point(Random& r, ir::DType t) {
  return r.chance(0.7) ? r.between(ir::int_min(t), ir::int_max(t)) : 0;
}

ir::Graph random_conv(Random& r, std::vector<ir::TensorData>& inputs) {
  const int64_t spatial = r.between(1, 3), groups = r.between(1, 3);
  const int64_t in_per_group = r.between(1, 3), out_per_group = r.between(1, 3);
  const Windows win = random_windows(r, spatial, 3);
  const ir::DType xt = r.pick<ir::DType>({ir::DType::i8, ir::DType::u8, ir::DType::i16, ir::DType::u16});
  const ir::DType wt = r.pick<ir::DType>({ir::DType::i8, ir::DType::i16, ir::DType::u8});
  const ir::DType acc = accumulator(r, xt, wt);
  ir::Shape xs{r.between(1, 2), groups * in_per_group}, ws{groups * out_per_group, in_per_group};
  xs.insert(xs.end(), win.in.begin(), win.in.end());
  ws.insert(ws.end(), win.kernel.begin(), win.kernel.end());
  ir::Graph g;
  std::vector<ir::Value*> operands{g.add_input("x", {xt, xs, std::nullopt}), g.add_constant("w", r.data(wt, ws))};
  if (r.chance(0.5)) {
    ir::TensorData bias(acc, {ws[0]});
    for (int64_t c = 0; c < ws[0]; ++c) {
      const int64_t b = r.between(-(1 << 20), 1 << 20);
      if (acc == ir::DType::i32) bias.as<int32_t>()[c] = static_cast<int32_t>(b);
      else bias.as<int64_t>()[c] = b;
    }
    operands.push_back(g.add_constant("b", std::move(bias)));
  }
  std::map<std::string, ir::AttrValue> attrs{
      {"strides", win.strides}, {"pads", win.pads}, {"dilations", win.dilations}, {"group", groups}};
  if (const int64_t zp = random_zero_point(r, xt); zp != 0) attrs["x_zero_point"] = zp;
  add_output_op(g, ir::OpKind::conv, operands, acc, attrs);
  inputs = {r.data(xt, xs)};
  return g;
}

ir::Graph random_matmul(Random& r, std::vector<ir::TensorData>& inputs) {
  const int64_t m = r.between(1, 6), k = r.between(1, 40), n = r.between(1, 6);
  // Batch axes that broadcast: each is shared, or 1 in one operand; the ranks may differ.
  const int64_t batch_rank = r.between(0, 2);
  ir::Shape a_batch, b_batch;
  for (int64_t i = 0; i < batch_rank; ++i) {
    const int64_t size = r.between(1, 3);
    a_batch.push_back(r.chance(0.3) ? 1 : size);
    b_batch.push_back(r.chance(0.3) ? 1 : size);
  }
  if (r.chance(0.3) && !b_batch.empty()) b_batch.erase(b_batch.begin());
  ir::Shape as = a_batch, bs = b_batch;
  as.insert(as.end(), {m, k});
  bs.insert(bs.end(), {k, n});
  if (r.chance(0.15)) as = {k};  // numpy's vector operands
  if (r.chance(0.15)) bs = {k};
  const ir::DType at = r.pick<ir::DType>({ir::DType::i8, ir::DType::u8, ir::DType::i16});
  const ir::DType bt = r.pick<ir::DType>({ir::DType::i8, ir::DType::i16});
  ir::Graph g;
  std::vector<ir::Value*> operands{g.add_input("a", {at, as, std::nullopt}), g.add_input("b", {bt, bs, std::nullopt})};
  std::map<std::string, ir::AttrValue> attrs;
  if (const int64_t zp = random_zero_point(r, at); zp != 0) attrs["x_zero_point"] = zp;
  add_output_op(g, ir::OpKind::matmul, operands, accumulator(r, at, bt), attrs);
  inputs = {r.data(at, as), r.data(bt, bs)};
  return g;
}

ir::Graph random_maxpool(Random& r, std::vector<ir::TensorData>& inputs) {
  const int64_t spatial = r.between(1, 3);
  const Windows win = random_windows(r, spatial, 4);
  const ir::DType xt =
      r.pick<ir::DType>({ir::DType::i8, ir::DType::u8, ir::DType::i16, ir::DType::u16, ir::DType::i32});
  ir::Shape xs{r.between(1, 2), r.between(1, 3)};
  xs.insert(xs.end(), win.in.begin(), win.in.end());
  ir::Graph g;
  add_output_op(g, ir::OpKind::maxpool, {g.add_input("x", {xt, xs, std::nullopt})}, xt,
                {{"strides", win.strides}, {"pads", win.pads}, {"dilations", win.dilations},
                 {"kernel_shape", win.kernel}, {"ceil_mode", int64_t{r.chance(0.5)}}});
  inputs = {r.data(xt, xs)};
  return g;
}

// The output, or the refusal's message prefixed by "error: ".
std::variant<ir::TensorData, std::string> outcome(const std::function<ir::TensorData()>& run) {
  try {
    return run();
  } catch (const Error& e) {
    return std::string("error: ") + e.what();
  }
}

void cross_check(ir::Graph (*make)(Random&, std::vector<ir::TensorData>&), uint32_t seed, int cases) {
  Random r(seed);
  int refused = 0;
  for (int i = 0; i < cases; ++i) {
    std::vector<ir::TensorData> inputs;
    const ir::Graph g = make(r, inputs);
    ir::verify(g);
    const auto integer = outcome([&] { return sim::simulate_integer(g, inputs)[0]; });
    const auto reference = outcome([&] { return sim::evaluate_qat(g, inputs, {})[0]; });
    INFO("case " << i << ":\n" << ir::print_graph(g));
    REQUIRE(integer.index() == reference.index());
    if (const auto* out = std::get_if<ir::TensorData>(&integer)) {
      CHECK(*out == std::get<ir::TensorData>(reference));
    } else {
      ++refused;
    }
  }
  // Most cases must compute something, or the check proves little.
  CHECK(refused < cases / 4);
}

}  // namespace

TEST_CASE("sim/int conv agrees exactly with the QAT evaluator's integer path") { cross_check(random_conv, 1, 400); }

TEST_CASE("sim/int matmul agrees exactly with the QAT evaluator's integer path") { cross_check(random_matmul, 2, 300); }

TEST_CASE("sim/int maxpool agrees exactly with the QAT evaluator's integer path") { cross_check(random_maxpool, 3, 300); }
