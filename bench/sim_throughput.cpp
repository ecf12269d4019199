// qatc-bench-sim: how fast the integer simulator runs conv-heavy layers, next to its peer, the QAT
// reference evaluator in float32 mode on the equivalent fake-quant graph. Each layer is a 3x3 conv
// (stride 1, pad 1, C -> C) at ResNet-18's four stage shapes:
//   integer:    quantize -> conv (u8 x i8 -> i32) -> requantize (per-channel shift, i32 bias, ReLU)
//   fake-quant: quantize -> dequantize -> conv (dequantized weights, float bias) -> quantize
// With power-of-two scales every float32 step of the fake-quant graph is exact here, so the two
// must produce the same integers: the bench checks that too, and fails if they differ.
#include "ir/graph.h"
#include "sim/int/simulator.h"
#include "sim/qat/evaluator.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <random>

using namespace qatc;

namespace {

struct Layer {
  int64_t channels, size;  // C -> C channels on a size x size plane
  int64_t macs() const { return size * size * channels * channels * 9; }
  std::string name() const { return fmt::format("conv3x3 {}x{}x{}", size, size, channels); }
};

// Power-of-two scales: input 2^-5, weights 2^-(7 + e_c) per output channel, output 2^-1, so the
// requantize shift of channel c is 5 + 7 + e_c - 1.
constexpr int kInputExp = -5, kOutputExp = -1;

ir::QuantParams per_tensor_u8(int exp) {
  ir::QuantParams q;
  q.scales = {std::ldexp(1.0, exp)};
  q.zero_points = {0};
  q.is_signed = false;
  return q;
}

struct LayerGraphs {
  ir::Graph integer, fake_quant;
  ir::TensorData input;
};

LayerGraphs make_layer(const Layer& l, std::mt19937& rng) {
  const int64_t c = l.channels;
  const ir::Shape act{1, c, l.size, l.size}, wshape{c, c, 3, 3};
  std::uniform_int_distribution<int> weight(-127, 127), exp_extra(0, 2), bias(-4096, 4096);
  std::uniform_real_distribution<float> value(0.0f, 8.0f);

  ir::QuantParams wq;  // i8, per output channel
  wq.axis = 0;
  std::vector<int64_t> shifts;
  std::vector<int32_t> bias_q;
  std::vector<float> bias_f;
  for (int64_t o = 0; o < c; ++o) {
    const int e = exp_extra(rng);
    wq.scales.push_back(std::ldexp(1.0, -7 - e));
    wq.zero_points.push_back(0);
    shifts.push_back(-kInputExp + 7 + e + kOutputExp);
    bias_q.push_back(bias(rng));
    bias_f.push_back(std::ldexp(static_cast<float>(bias_q.back()), kInputExp - 7 - e));  // exact
  }
  std::vector<int8_t> w(static_cast<size_t>(ir::num_elements(wshape)));
  for (int8_t& v : w) v = static_cast<int8_t>(weight(rng));
  std::vector<float> x(static_cast<size_t>(ir::num_elements(act)));
  for (float& v : x) v = value(rng);

  const std::map<std::string, ir::AttrValue> conv_attrs{
      {"strides", std::vector<int64_t>{1, 1}}, {"pads", std::vector<int64_t>{1, 1, 1, 1}},
      {"dilations", std::vector<int64_t>{1, 1}}, {"group", int64_t{1}}};
  const ir::TensorType f32{ir::DType::f32, act, std::nullopt};
  const ir::TensorType in_q{ir::DType::u8, act, per_tensor_u8(kInputExp)};
  const ir::TensorType out_q{ir::DType::u8, act, per_tensor_u8(kOutputExp)};
  const ir::TensorData weights = ir::TensorData::from<int8_t>(wshape, std::span<const int8_t>(w));

  LayerGraphs lg;
  lg.input = ir::TensorData::from<float>(act, std::span<const float>(x));
  {
    ir::Graph& g = lg.integer;
    ir::Value* in = g.add_input("x", f32);
    ir::Value* q = g.add_op(ir::OpKind::quantize, {in}, {{"q", in_q}}, {{"round", std::string("half_even")}})->outputs[0];
    ir::Value* wv = g.add_constant("w", weights, wq);
    ir::Value* acc = g.add_op(ir::OpKind::conv, {q, wv}, {{"acc", {ir::DType::i32, act, std::nullopt}}}, conv_attrs)->outputs[0];
    ir::Value* b = g.add_constant("b", ir::TensorData::from<int32_t>({c}, std::span<const int32_t>(bias_q)));
    g.add_output(g.add_op(ir::OpKind::requantize, {acc, b}, {{"y", out_q}},
                          {{"shift", shifts}, {"axis", int64_t{1}}, {"round", std::string("half_even")},
                           {"min", int64_t{0}}, {"max", int64_t{255}}})
                     ->outputs[0]);
  }
  {
    ir::Graph& g = lg.fake_quant;
    ir::Value* in = g.add_input("x", f32);
    ir::Value* q = g.add_op(ir::OpKind::quantize, {in}, {{"q", in_q}}, {{"round", std::string("half_even")}})->outputs[0];
    ir::Value* xd = g.add_op(ir::OpKind::dequantize, {q}, {{"xd", f32}})->outputs[0];
    ir::Value* wv = g.add_constant("w", weights, wq);
    ir::Value* wd = g.add_op(ir::OpKind::dequantize, {wv}, {{"wd", {ir::DType::f32, wshape, std::nullopt}}})->outputs[0];
    ir::Value* b = g.add_constant("b", ir::TensorData::from<float>({c}, std::span<const float>(bias_f)));
    ir::Value* y = g.add_op(ir::OpKind::conv, {xd, wd, b}, {{"c", f32}}, conv_attrs)->outputs[0];
    g.add_output(g.add_op(ir::OpKind::quantize, {y}, {{"y", out_q}}, {{"round", std::string("half_even")}})->outputs[0]);
  }
  return lg;
}

// Median wall time of `repeat` runs, in seconds; `out` receives the last run's result.
double median_seconds(int repeat, const std::function<std::vector<ir::TensorData>()>& run,
                      std::vector<ir::TensorData>& out) {
  std::vector<double> times;
  for (int i = 0; i < repeat; ++i) {
    const auto start = std::chrono::steady_clock::now();
    out = run();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"qatc-bench-sim: integer simulator throughput on ResNet-18-shaped conv layers"};
  bool quick = false;
  int repeat = 5;
  app.add_flag("--quick", quick, "tiny layers, one run each (a smoke test, not a measurement)");
  app.add_option("--repeat", repeat, "runs per layer and simulator; the median is reported")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  std::vector<Layer> layers{{64, 56}, {128, 28}, {256, 14}, {512, 7}};
  if (quick) {
    layers = {{8, 8}, {16, 4}, {32, 2}, {64, 1}};
    repeat = 1;
  }
  fmt::print("single thread, median of {} run(s); int = simulate_integer, qat = a QatEvaluator's run (float32, weights "
             "prepared once, as verify does)\n",
             repeat);
  fmt::print("{:<22}{:>10}{:>13}{:>11}{:>13}{:>11}{:>9}{:>8}\n", "layer", "MMACs", "int ms", "int GMAC/s",
             "qat ms", "qat GMAC/s", "ratio", "agree");
  std::mt19937 rng(2024);
  double total_macs = 0, total_int = 0, total_qat = 0;
  bool all_agree = true;
  for (const Layer& l : layers) {
    const LayerGraphs lg = make_layer(l, rng);
    std::vector<ir::TensorData> int_out, qat_out;
    const double t_int = median_seconds(repeat, [&] { return sim::simulate_integer(lg.integer, {lg.input}); }, int_out);
    const sim::QatEvaluator qat(lg.fake_quant, {.arithmetic = sim::Arithmetic::float32}, /*observed=*/false);
    const double t_qat = median_seconds(repeat, [&] { return qat.run({lg.input}); }, qat_out);
    const bool agree = int_out[0] == qat_out[0];
    all_agree = all_agree && agree;
    const auto macs = static_cast<double>(l.macs());
    total_macs += macs;
    total_int += t_int;
    total_qat += t_qat;
    fmt::print("{:<22}{:>10.1f}{:>13.2f}{:>11.2f}{:>13.2f}{:>11.3f}{:>8.1f}x{:>8}\n", l.name(), macs / 1e6, t_int * 1e3,
               macs / t_int / 1e9, t_qat * 1e3, macs / t_qat / 1e9, t_qat / t_int, agree ? "yes" : "NO");
  }
  fmt::print("{:<22}{:>10.1f}{:>13.2f}{:>11.2f}{:>13.2f}{:>11.3f}{:>8.1f}x{:>8}\n", "total", total_macs / 1e6,
             total_int * 1e3, total_macs / total_int / 1e9, total_qat * 1e3, total_macs / total_qat / 1e9,
             total_qat / total_int, all_agree ? "yes" : "NO");
  if (!all_agree) {
    fmt::print(stderr, "error: the integer simulator and the float32 fake-quant graph disagree\n");
    return 1;
  }
  return 0;
}
