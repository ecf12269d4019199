// Each Halide kernel definition against its sim/int twin: small lowered graphs written as IR text
// with random data, planned for every shipped target (their schedules differ: lanes, channel
// blocks, row tiles), each kernel run through Halide's JIT with bounds assertions on and compared
// with the integer simulator's value of the same tensor, element for element.
#include "codegen/firmware/report.h"
#include "codegen/halide/emit.h"
#include "codegen/kernel_plan.h"
#include "codegen/pair_order.h"
#include "ir/text.h"
#include "ir/verifier.h"
#include "sim/int/simulator.h"
#include "targets/target.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <tuple>
#include <random>

using namespace qatc;

namespace {

std::mt19937& rng() {
  static std::mt19937 r(20261202);
  return r;
}

int64_t uniform(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng()); }

// "[v, v, ...]" of n random integers in [lo, hi].
std::string values(int64_t n, int64_t lo, int64_t hi) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(uniform(lo, hi));
  return fmt::format("[{}]", fmt::join(v, ", "));
}

ir::TensorData random_tensor(const ir::Value& v) {
  ir::TensorData d(v.type.dtype, v.type.shape);
  const int64_t lo = v.type.quant ? v.type.quant->qmin() : -1000, hi = v.type.quant ? v.type.quant->qmax() : 1000;
  ir::visit_dtype(v.type.dtype, [&](auto t) {
    for (auto& e : d.as<decltype(t)>()) e = static_cast<decltype(t)>(uniform(lo, hi));
  });
  return d;
}

// The host's three dot-product forms, whatever this machine's CPU: with an int8 dot product and
// 512-bit vectors (AVX-512 VNNI: 4 channels per step), with byte pairs and 256-bit vectors (AVX2's
// pmaddubsw + pmaddwd: 4 channels per step, the weights clamped below the saturation), or with
// 16-bit pair products only (pmaddwd: 2 channels per step). Kernels are planned for each and
// JIT-compiled for this CPU, where Halide emulates what it lacks, so every form is tested on every
// machine.
enum class HostForm { vnni, byte_pairs, pairs };
HostForm form_of(const targets::Target& t) {
  return t.int8_dot_product ? HostForm::vnni : t.int8_saturating_pair_product ? HostForm::byte_pairs : HostForm::pairs;
}
targets::Target host_form(targets::Target host, HostForm form) {
  const bool vnni = form == HostForm::vnni;
  host.name = vnni ? "host with an int8 dot product" : form == HostForm::byte_pairs ? "host with byte pairs" : "host with 16-bit pair products";
  host.vector_bits = vnni ? 512 : 256;
  host.vector_registers = vnni ? 32 : 16;
  host.int8_dot_product = vnni ? 4 : 0;
  host.int16_pair_product = 2;
  host.int8_saturating_pair_product = form == HostForm::pairs ? 0 : 2;
  return host;
}

// The shipped targets (the host's description as this machine's CPU fills it in), and the host in
// the dot-product forms this CPU does not take.
const std::vector<targets::Target>& all_targets() {
  static const std::vector<targets::Target> t = [] {
    std::vector<targets::Target> loaded = targets::load_targets(QATC_SOURCE_DIR "/targets");
    const targets::Target host = targets::find_target(loaded, "host");
    for (HostForm form : {HostForm::vnni, HostForm::byte_pairs, HostForm::pairs})
      if (form != form_of(host)) loaded.push_back(host_form(host, form));
    return loaded;
  }();
  return t;
}

// The host in each dot-product form: this machine's, or one of all_targets' added ones.
const targets::Target& host_in(HostForm form) {
  const targets::Target& host = targets::find_target(all_targets(), "host");
  if (form_of(host) == form) return host;
  return *std::find_if(all_targets().begin(), all_targets().end(),
                       [&](const targets::Target& t) { return t.name.starts_with("host with") && form_of(t) == form; });
}
const targets::Target& vnni_host() { return host_in(HostForm::vnni); }
const targets::Target& byte_pair_host() { return host_in(HostForm::byte_pairs); }
const targets::Target& pair_host() { return host_in(HostForm::pairs); }

// Runs every kernel of `text`'s plan on random inputs, for every target, against the simulator:
// the LLVM backend's schedule and the C backend's, or the C backend's alone for a plan whose
// weights are arranged for C only.
void check_kernels(const std::string& text, const std::vector<targets::Target>& targets = all_targets(),
                   codegen::Layout layout = codegen::Layout::planar, codegen::WeightsFor weights = codegen::WeightsFor::llvm) {
  INFO(text);
  ir::Graph g = ir::parse_graph(text, "kernel_test.qir");
  ir::verify(g);
  std::vector<ir::TensorData> inputs;
  std::map<std::string, ir::TensorData> values;
  for (const ir::Value* in : g.inputs()) {
    inputs.push_back(random_tensor(*in));
    values[in->name] = inputs.back();
  }
  sim::simulate_integer(g, inputs, [&](const ir::Op& op, const ir::TensorData& d) { values[op.outputs[0]->name] = d; });
  for (const targets::Target& t : targets) {
    INFO("target " << t.name);
    const codegen::KernelPlan plan = codegen::plan_kernels(g, t, layout, weights);
    // A tensor as the plan stores it: its channels in the plan's order for it, if any.
    auto stored = [&](const ir::Value* v) {
      auto it = plan.channel_orders.find(v);
      const ir::TensorData& d = values.at(v->name);
      return it == plan.channel_orders.end() ? d : codegen::permute_channels(d, it->second, 1);
    };
    for (const codegen::Step& s : plan.steps) {
      if (s.alias) continue;
      INFO(s.spec.signature());
      std::deque<ir::TensorData> operands;
      std::vector<const ir::TensorData*> args;
      for (const codegen::Arg& a : s.args) args.push_back(a.value ? &operands.emplace_back(stored(a.value)) : &plan.constants[a.constant].data);
      // Element for element (a kernel may view the tensor in another shape of the same memory).
      const ir::TensorData want = stored(s.result);
      if (weights == codegen::WeightsFor::llvm) {
        const ir::TensorData got = codegen::realize_kernel(s.spec, args);
        CHECK((got.dtype() == want.dtype() && got.bytes() == want.bytes()));
      }
      // The C backend's code is scheduled differently (pipeline.h's Backend): that schedule too.
      const ir::TensorData got_c = codegen::realize_kernel(s.spec, args, true);
      CHECK((got_c.dtype() == want.dtype() && got_c.bytes() == want.bytes()));
    }
  }
}

int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t pb, int64_t pe, int64_t d, bool ceil_mode = false) {
  return ir::window_output_size(in, k, s, pb, pe, d, ceil_mode);
}

const std::vector<std::string> kRules{"half_even", "half_up", "half_away", "floor"};

// conv + requantize with per-channel shifts (some <= 0), bias fractions and bounds.
std::string conv_graph(int64_t c, int64_t h, int64_t w, int64_t co, int64_t group, int64_t k, int64_t stride,
                       int64_t dilation, std::array<int64_t, 4> pads, int64_t zp, const std::string& rule, bool bias,
                       const std::string& xt = "u8", int64_t min_shift = -2, const std::string& weights = "") {
  const int64_t oh = out_size(h, k, stride, pads[0], pads[2], dilation), ow = out_size(w, k, stride, pads[1], pads[3], dilation);
  const int64_t cig = c / group;
  return fmt::format(R"(graph @conv {{
  input %x : {xt}[1,{c},{h},{w}] quant<{xt}: scale = 2^-5, zp = {zp}>
  const %w : i8[{co},{cig},{k},{k}] = {wv}
  const %b : i32[{co}] = {bv}
  const %rb : i32[{co}] = {rbv}
  %acc = conv(%x, %w{bias}) {{dilations = [{d}, {d}], group = {g}, pads = [{p0}, {p1}, {p2}, {p3}], strides = [{s}, {s}], x_zero_point = {zp}}} : i32[1,{co},{oh},{ow}]
  %y = requantize(%acc, %rb) {{axis = 1, bias_frac = {frac}, max = 100, min = -128, round = "{rule}", shift = {shift}}} : i8[1,{co},{oh},{ow}] quant<i8: scale = 2^-4, zp = -3>
  output %y
}})",
                     fmt::arg("xt", xt), fmt::arg("c", c), fmt::arg("h", h), fmt::arg("w", w), fmt::arg("zp", zp), fmt::arg("co", co),
                     fmt::arg("cig", cig), fmt::arg("k", k), fmt::arg("wv", weights.empty() ? values(co * cig * k * k, -128, 127) : weights),
                     fmt::arg("bv", values(co, -5000, 5000)), fmt::arg("rbv", values(co, -3000, 3000)),
                     fmt::arg("bias", bias ? ", %b" : ""), fmt::arg("d", dilation), fmt::arg("g", group),
                     fmt::arg("p0", pads[0]), fmt::arg("p1", pads[1]), fmt::arg("p2", pads[2]), fmt::arg("p3", pads[3]),
                     fmt::arg("s", stride), fmt::arg("oh", oh), fmt::arg("ow", ow), fmt::arg("frac", values(co, 0, 3)),
                     fmt::arg("rule", rule), fmt::arg("shift", values(co, min_shift, 12)));
}

}  // namespace

TEST_CASE("conv kernels equal the simulator: strides, dilations, padding, groups, zero points, rules") {
  for (size_t i = 0; i < kRules.size(); ++i) {
    CAPTURE(kRules[i]);
    check_kernels(conv_graph(3, 9, 11, 6, 1, 3, 1, 1, {1, 1, 1, 1}, 0, kRules[i], true));
    check_kernels(conv_graph(4, 10, 7, 8, 2, 3, 2, 1, {0, 1, 2, 0}, 128, kRules[i], false));
  }
  check_kernels(conv_graph(8, 12, 12, 8, 8, 3, 1, 2, {2, 2, 2, 2}, 7, "half_even", true));  // depthwise, dilated
  check_kernels(conv_graph(5, 6, 33, 16, 1, 1, 1, 1, {0, 0, 0, 0}, 0, "half_up", true));   // pointwise, wide rows
  check_kernels(conv_graph(2, 5, 5, 3, 1, 5, 3, 1, {2, 1, 0, 2}, 1, "half_away", true));   // odd channel count
}

// Where the target has an int8 dot product (host: AVX-512 VNNI) dense 8-bit convs take the
// dot-product kernel: unsigned bytes x + 128 for int8 inputs, channel counts padded to 4 and 16,
// register blocks of channel vectors x columns with shifted-in last blocks.
TEST_CASE("dot-product conv kernels equal the simulator: int8 and uint8 inputs, register blocks, tails") {
  check_kernels(conv_graph(24, 6, 23, 64, 1, 3, 1, 1, {1, 1, 1, 1}, -3, "half_even", true, "i8"));
  check_kernels(conv_graph(7, 9, 9, 40, 1, 3, 2, 1, {1, 0, 1, 2}, 5, "half_up", false, "i8"));
  check_kernels(conv_graph(16, 7, 7, 32, 1, 3, 1, 2, {2, 2, 2, 2}, 9, "floor", true));
  check_kernels(conv_graph(3, 11, 12, 16, 1, 7, 2, 1, {3, 3, 3, 3}, 0, "half_away", true));  // a 7x7 stem
  check_kernels(conv_graph(64, 3, 3, 48, 1, 1, 1, 1, {0, 0, 0, 0}, 0, "half_even", true, "i8"));
  check_kernels(conv_graph(64, 6, 9, 16, 1, 3, 1, 2, {2, 1, 2, 1}, 4, "half_up", true, "i8"));  // a tap per loop
  // Too few bytes per patch for the C schedule's dot-product loop: its column form.
  check_kernels(conv_graph(16, 5, 13, 32, 1, 1, 1, 1, {0, 0, 0, 0}, 7, "half_even", true, "i8"));
  check_kernels(conv_graph(3, 9, 10, 16, 1, 3, 2, 1, {1, 1, 0, 0}, 2, "floor", false));
}

// Right shifts only, and sums far from 2^31: the dot-product conv requantizes in 32 bits.
// Each host form sums its own number of input channels per step: the weights of a 3x3 conv are
// [C_out/L][tap][C_in/W][L][W] and a pointwise conv packs its input W channels at a time, W = 4
// with VNNI (vpdpbusd), 2 without (vpmaddwd). Both equal the simulator.
TEST_CASE("dot-product conv kernels sum 4 channels per step with VNNI, 2 with 16-bit pair products") {
  for (const auto& [host, width] : {std::pair{&vnni_host(), 4}, std::pair{&pair_host(), 2}}) {
    INFO(host->name);
    const std::string dense = conv_graph(12, 6, 9, 16, 1, 3, 1, 1, {1, 1, 1, 1}, 5, "half_even", true, "i8");
    const std::string pointwise = conv_graph(20, 8, 8, 24, 1, 1, 1, 1, {0, 0, 0, 0}, 0, "half_up", true, "u8");
    const codegen::KernelSpec d = codegen::plan_kernels(ir::parse_graph(dense, "dense.qir"), *host).steps.front().spec;
    REQUIRE(d.args[1].shape.back() == width);
    REQUIRE(d.args[1].shape[2] * width == 12);  // 12 input channels
    const codegen::KernelSpec p = codegen::plan_kernels(ir::parse_graph(pointwise, "pointwise.qir"), *host).steps.front().spec;
    REQUIRE(p.get_int("dot_width") == width);
    REQUIRE(p.args[1].dtype == (width == 2 ? ir::DType::i16 : ir::DType::i8));  // pairs broadcast as one 32-bit load
    check_kernels(dense, {*host});
    check_kernels(pointwise, {*host});
  }
}

// A plan for the C backend alone (qatc compile without --emit obj/asm) arranges a dense dot-product
// conv's weights as the C loops read them, a row per output channel and tap: [C_out][tap][C_in],
// 16-bit in the pair form; a plan that also makes host objects keeps the LLVM order. Every C loop
// form reading the rows equals the simulator: row (pairs), patch (bytes; a 7x7 stem; column
// dilation), tap per loop (pairs, column dilation) and column.
TEST_CASE("dot-product conv kernels of a C-only plan read the weights in rows") {
  for (const auto& [host, width] : {std::pair{&vnni_host(), 4}, std::pair{&pair_host(), 2}}) {
    INFO(host->name);
    const std::string dense = conv_graph(12, 6, 9, 20, 1, 3, 1, 1, {1, 1, 1, 1}, 5, "half_even", true, "i8");
    const ir::Graph g = ir::parse_graph(dense, "dense.qir");
    const codegen::KernelSpec c = codegen::plan_kernels(g, *host, codegen::Layout::planar, codegen::WeightsFor::c).steps.front().spec;
    REQUIRE(c.attrs.count("dot_weight_rows") == 1);
    const int64_t lanes = c.get_int("channel_block");
    REQUIRE(c.args[1].shape == ir::Shape{(20 + lanes - 1) / lanes * lanes, 9, 12});  // C_out rounded up to the channel block
    REQUIRE(c.args[1].dtype == (width == 2 ? ir::DType::i16 : ir::DType::i8));
    REQUIRE(codegen::plan_kernels(g, *host).steps.front().spec.attrs.count("dot_weight_rows") == 0);
    for (const std::string& text : {dense, conv_graph(3, 11, 12, 16, 1, 7, 2, 1, {3, 3, 3, 3}, 0, "half_away", true),
                                    conv_graph(64, 6, 9, 16, 1, 3, 1, 2, {2, 1, 2, 1}, 4, "half_up", true, "i8"),
                                    conv_graph(3, 9, 10, 16, 1, 3, 2, 1, {1, 1, 0, 0}, 2, "floor", false)})
      check_kernels(text, {*host}, codegen::Layout::planar, codegen::WeightsFor::c);
  }
}

// 768 input channels (3 x 3, 7 columns): not even one output row's input copy fits Halide's 16 KiB
// stack limit (3 rows x 9 columns x 768 channels, twice that in 16 bits for vpmaddwd), so the dot
// product conv copies per chunk of whole register blocks, the last chunk shifted inwards. Equal to
// the simulator in both forms, and no halide_malloc.
TEST_CASE("dot-product conv kernels whose row copy exceeds the stack copy per chunk of register blocks") {
  const std::string g = conv_graph(768, 4, 7, 16, 1, 3, 1, 1, {1, 1, 1, 1}, 3, "half_even", true, "u8");
  for (const targets::Target* host : {&vnni_host(), &pair_host()}) {
    INFO(host->name);
    const codegen::KernelSpec spec = codegen::plan_kernels(ir::parse_graph(g, "chunk.qir"), *host).steps.front().spec;
    REQUIRE(spec.attrs.count("dot"));
    REQUIRE(spec.get_int("dot_chunk_columns") > 0);
    REQUIRE(spec.get_int("dot_chunk_columns") < 7);
    CHECK(codegen::emit_kernel_assembly(spec).find("halide_malloc") == std::string::npos);
    check_kernels(g, {*host});
  }
}

TEST_CASE("dot-product conv kernels requantizing in 32 bits equal the simulator, every rule") {
  for (const std::string& rule : kRules) {
    const std::string g = conv_graph(24, 6, 11, 32, 1, 3, 1, 1, {1, 1, 1, 1}, -3, rule, true, "i8", 1);
    const codegen::KernelPlan plan = codegen::plan_kernels(ir::parse_graph(g, "narrow.qir"), vnni_host());
    REQUIRE(plan.steps.front().spec.attrs.count("rq_narrow"));
    REQUIRE(plan.steps.front().spec.attrs.count("rq_headroom"));
    check_kernels(g);
  }
}

// The same for convs without the dot product (depthwise, grouped): the plan bounds their sums too.
// Rows of 21, 14 and 7 columns (vectors of 16, 8 and 4 lanes).
TEST_CASE("depthwise and grouped conv kernels requantizing in 32 bits equal the simulator, every rule") {
  for (const std::string& rule : kRules) {
    for (auto [group, columns] : {std::pair<int64_t, int64_t>{16, 21}, {4, 21}, {16, 14}, {16, 7}}) {
      const std::string g = conv_graph(16, 9, columns, 16, group, 3, 1, 1, {1, 1, 1, 1}, 3, rule, true, "u8", 1);
      const codegen::KernelPlan plan = codegen::plan_kernels(ir::parse_graph(g, "grouped.qir"), targets::find_target(all_targets(), "host"));
      REQUIRE(plan.steps.front().spec.attrs.count("rq_headroom"));
      check_kernels(g);
    }
  }
}

// A 3x3 conv over many input channels in the generic form (a target with 256-bit vectors and
// neither an int8 dot product nor a 16-bit pair product): one row's padded copy of 512 channels (3 x 12 x 512 bytes, ResNet-18's last stage) is
// above Halide's 16 KiB stack limit, where its LLVM backend would call halide_malloc, so the host
// schedule copies one output vector's window at a time; at 768 channels even that is too large
// and the kernel reads the input through the bounds test. Both equal the simulator, and neither
// host kernel references halide_malloc.
TEST_CASE("conv kernels whose row copy exceeds the stack copy per output vector, or not at all") {
  targets::Target generic = targets::find_target(all_targets(), "host");
  generic.vector_bits = 256;
  generic.int8_dot_product = 0;
  generic.int16_pair_product = 0;
  for (const auto& [copy, g] : {std::pair{"vector", conv_graph(512, 7, 7, 8, 1, 3, 1, 1, {1, 1, 1, 1}, 3, "half_even", true)},
                                std::pair{"none", conv_graph(768, 5, 5, 8, 1, 3, 1, 1, {1, 1, 1, 1}, 0, "half_up", false)}}) {
    const codegen::KernelPlan plan = codegen::plan_kernels(ir::parse_graph(g, "copy.qir"), generic);
    const codegen::KernelSpec& spec = plan.steps.front().spec;
    REQUIRE(spec.get_string("padded_copy") == copy);
    CHECK(codegen::emit_kernel_assembly(spec).find("halide_malloc") == std::string::npos);
    check_kernels(g, {generic});
  }
}

// Depthwise convs take the C schedule's flat plane form (a channel's plane as one loop over rows
// as wide as the padded input, the extra sums never stored): strides, uneven padding, a depth
// multiplier, dilation, a 5x5 kernel, left and right shifts; with an L2 too small for a plane,
// the tiled form.
TEST_CASE("depthwise conv kernels in the C schedule's flat plane form equal the simulator") {
  targets::Target host = targets::find_target(all_targets(), "host");
  const std::vector<std::string> graphs{
      conv_graph(8, 9, 11, 8, 8, 3, 2, 1, {1, 0, 1, 2}, 3, "half_even", true),
      conv_graph(4, 7, 7, 8, 4, 3, 1, 2, {2, 2, 2, 2}, 0, "half_up", false),
      conv_graph(6, 10, 6, 6, 6, 5, 1, 1, {2, 2, 2, 2}, -128, "half_away", true, "i8", 1),
      conv_graph(16, 14, 14, 16, 16, 3, 2, 1, {0, 0, 1, 1}, 5, "floor", true, "u8", 1)};
  for (const std::string& g : graphs) {
    auto plane = [&] { return codegen::plan_kernels(ir::parse_graph(g, "plane.qir"), host).steps.front().spec.attrs.count("c_plane_width") == 1; };
    host.memory[1].bytes = int64_t{1} << 20;
    REQUIRE(plane());
    check_kernels(g, {host});
    host.memory[1].bytes = 256;
    REQUIRE_FALSE(plane());
    check_kernels(g, {host});
  }
}

// 1x1 convs of stride 1 without padding take the pointwise form (pixels in vector lanes, the planes
// flattened): pixel counts that are not a multiple of the tile (a shifted-in last tile), output
// channels that are not a multiple of the register block, input channels padded to 4, several
// tiles (many input channels), every rule in 32 bits; and a plane of fewer pixels than one block
// of vectors keeps the channel-vector form.
TEST_CASE("pointwise dot-product conv kernels equal the simulator: tails, channel padding, tiles, rules") {
  const targets::Target& host = vnni_host();
  auto pointwise = [&](const std::string& g) {
    return codegen::plan_kernels(ir::parse_graph(g, "pointwise.qir"), host).steps.front().spec.attrs.count("dot_pixel_tile") == 1;
  };
  const std::vector<std::string> graphs{
      conv_graph(16, 7, 9, 24, 1, 1, 1, 1, {0, 0, 0, 0}, 5, "half_even", true, "u8"),
      conv_graph(13, 10, 11, 20, 1, 1, 1, 1, {0, 0, 0, 0}, -7, "half_away", true, "i8"),
      conv_graph(300, 6, 9, 16, 1, 1, 1, 1, {0, 0, 0, 0}, 3, "floor", false, "i8")};
  for (const std::string& g : graphs) {
    REQUIRE(pointwise(g));
    check_kernels(g);
  }
  // 300 input channels: the C loop is a dot product over each pixel's channels, bytes padded to
  // 304 (a multiple of 16).
  const auto& wide = codegen::plan_kernels(ir::parse_graph(graphs.back(), "pointwise.qir"), host).steps.front().spec.attrs;
  REQUIRE(std::get<std::string>(wide.at("dot_c_loop")) == "patch");
  REQUIRE(std::get<int64_t>(wide.at("dot_c_channels")) == 304);
  // 16 input channels: a dot product over 16 bytes, or over one vector of 16-bit operands (the
  // pair form; on this 256-bit host, one vector); 13 a loop over pixels with either.
  for (const targets::Target* target : {&vnni_host(), &pair_host()}) {
    const auto& attrs = codegen::plan_kernels(ir::parse_graph(graphs.front(), "pointwise.qir"), *target).steps.front().spec.attrs;
    CHECK(std::get<std::string>(attrs.at("dot_c_loop")) == "patch");
    CHECK(std::get<int64_t>(attrs.at("dot_c_channels")) == (target == &vnni_host() ? 16 : target->vector_bits / 16));
    const auto& narrow = codegen::plan_kernels(ir::parse_graph(graphs[1], "pointwise.qir"), *target).steps.front().spec.attrs;
    CHECK(std::get<std::string>(narrow.at("dot_c_loop")) == "column");
  }
  for (const std::string& rule : kRules) {
    const std::string g = conv_graph(32, 9, 9, 40, 1, 1, 1, 1, {0, 0, 0, 0}, 128, rule, true, "u8", 1);
    REQUIRE(pointwise(g));
    REQUIRE(codegen::plan_kernels(ir::parse_graph(g, "pointwise.qir"), host).steps.front().spec.attrs.count("rq_headroom"));
    check_kernels(g);
  }
  const std::string small = conv_graph(16, 3, 5, 16, 1, 1, 1, 1, {0, 0, 0, 0}, 0, "half_even", true, "i8");
  REQUIRE_FALSE(pointwise(small));
  check_kernels(small);
}

// The C schedule's tiles are sized by L2, which holds these small layers whole: on a host with a
// tiny L2 they take several tiles, each with its own tile copy and transposed weights (one graph
// per form of the C loop: row, patch, column), with byte operands (VNNI: patches where 16-bit pairs
// take kernel rows) and 16-bit ones (pairs).
TEST_CASE("dot-product conv kernels equal the simulator in several C tiles") {
  struct Case {
    std::string vnni_form, pair_form, graph;
  };
  const std::vector<Case> cases{
      {"patch", "row", conv_graph(24, 8, 11, 32, 1, 3, 1, 1, {1, 1, 1, 1}, -3, "half_even", true, "i8")},
      // The blocks (2 channels x 8 columns of bytes, 4 x 1 of 16-bit operands): channel counts
      // that leave a guarded last block (5, and 6 for blocks of 4), 11 or 21 columns (a
      // shifted-in last block of 8), fewer columns than a block, one column (a block of one).
      {"patch", "row", conv_graph(24, 6, 7, 5, 1, 3, 1, 1, {1, 1, 1, 1}, 2, "floor", true, "u8")},
      {"patch", "row", conv_graph(24, 6, 1, 6, 1, 3, 1, 1, {1, 1, 1, 1}, 0, "half_up", false, "u8")},
      {"patch", "patch", conv_graph(3, 12, 10, 16, 1, 7, 2, 1, {3, 3, 3, 3}, 0, "half_away", true)},
      {"patch", "patch", conv_graph(3, 12, 21, 5, 1, 3, 1, 1, {1, 1, 1, 1}, -1, "half_even", true, "i8")},
      {"column", "column", conv_graph(8, 12, 9, 32, 1, 1, 2, 1, {0, 0, 0, 0}, 1, "half_up", true, "i8")}};
  for (const targets::Target* host : {&vnni_host(), &pair_host()}) {
    INFO(host->name);
    targets::Target small = *host;
    REQUIRE(small.memory.size() >= 2);
    small.memory[1].bytes = 1024;
    for (const Case& c : cases) {
      const codegen::KernelPlan plan = codegen::plan_kernels(ir::parse_graph(c.graph, "tiles.qir"), small);
      const codegen::KernelSpec& spec = plan.steps.front().spec;
      REQUIRE(spec.get_string("dot_c_loop") == (host == &vnni_host() ? c.vnni_form : c.pair_form));
      REQUIRE(spec.get_int("tile_rows") < spec.result().shape[2]);
      check_kernels(c.graph, {small});
    }
  }
}

TEST_CASE("matmul kernels equal the simulator, per tensor and per output feature") {
  for (const std::string& rule : kRules) {
    CAPTURE(rule);
    for (const auto& [m, k, n, axis] : std::vector<std::array<int64_t, 4>>{{1, 24, 10, 2}, {3, 17, 33, -1}, {5, 64, 8, 2}}) {
      check_kernels(fmt::format(R"(graph @mm {{
  input %a : i8[2,{m},{k}] quant<i8: scale = 2^-5, zp = 3>
  const %w : i8[{k},{n}] = {wv}
  const %rb : i32[{rn}] = {rbv}
  %acc = matmul(%a, %w) {{x_zero_point = 3}} : i32[2,{m},{n}]
  %y = requantize(%acc, %rb) {{axis = {axis}, bias_frac = {frac}, max = 127, min = -128, round = "{rule}", shift = {shift}}} : i8[2,{m},{n}] quant<i8: scale = 2^-4, zp = 0>
  output %y
}})",
                                fmt::arg("m", m), fmt::arg("k", k), fmt::arg("n", n), fmt::arg("axis", axis),
                                fmt::arg("wv", values(k * n, -128, 127)), fmt::arg("rn", axis < 0 ? 1 : n),
                                fmt::arg("rbv", values(axis < 0 ? 1 : n, -3000, 3000)),
                                fmt::arg("frac", values(axis < 0 ? 1 : n, 0, 3)), fmt::arg("rule", rule),
                                fmt::arg("shift", values(axis < 0 ? 1 : n, -1, 10))));
    }
  }
}

// A residual add as the lowering leaves it (both operands widened onto a common grid, the sum
// requantized), or one widened tensor requantized, becomes one kernel reading the 8/16-bit
// operands: per channel, per tensor, every rounding rule, zero points and a 16-bit operand.
TEST_CASE("fused residual add and regrid kernels equal the simulator") {
  for (const std::string& rule : kRules)
    check_kernels(fmt::format(R"(graph @residual {{
  input %a : i8[1,4,3,9] quant<i8: scale = 2^-4, zp = 5>
  input %b : u8[1,4,3,9] quant<u8: scale = 2^-2, zp = 0>
  input %c : i16[1,4,3,9] quant<i16: scale = 2^-9, zp = 0>
  %wa = widen(%a) {{shift = 0, zero_point = 5}} : i32[1,4,3,9]
  %wb = widen(%b) {{shift = 2, zero_point = 0}} : i32[1,4,3,9]
  %s = add(%wa, %wb) : i32[1,4,3,9]
  %y = requantize(%s) {{axis = 1, max = 127, min = -128, round = "{rule}", shift = [1, 2, 0, 3]}} : i8[1,4,3,9] quant<i8: scale = 2^-3, zp = 0>
  %wy = widen(%y) {{shift = 6, zero_point = 0}} : i32[1,4,3,9]
  %wc = widen(%c) {{shift = 0, zero_point = 0}} : i32[1,4,3,9]
  %t = add(%wy, %wc) : i32[1,4,3,9]
  %z = requantize(%t) {{axis = -1, max = 32767, min = -32768, round = "{rule}", shift = [4]}} : i16[1,4,3,9] quant<i16: scale = 2^-5, zp = 0>
  output %z
}})", fmt::arg("rule", rule)));
  // A tensor moved to another grid (a fake-quant after a clip): one widen, then the requantize.
  for (const std::string& rule : kRules)
    check_kernels(fmt::format(R"(graph @regrid {{
  input %a : u8[1,3,5,7] quant<u8: scale = 2^-5, zp = 3>
  %w = widen(%a) {{shift = 4, zero_point = 3}} : i32[1,3,5,7]
  %y = requantize(%w) {{axis = 1, max = 127, min = 0, round = "{rule}", shift = [5, 6, 3]}} : i8[1,3,5,7] quant<i8: scale = 2^-4, zp = 0>
  output %y
}})", fmt::arg("rule", rule)));
}

// A squeeze-excitation's scaling as the lowering leaves it: a per-channel scale [1,C,1,1] and the
// activations widened, multiplied and requantized. One kernel reads both 8/16-bit operands (the
// scale broadcast over each channel plane) and requantizes the product in 32-bit arithmetic,
// which the operands' ranges allow; per tensor and per channel, every rule.
TEST_CASE("fused squeeze-excitation product kernels equal the simulator") {
  for (const std::string& rule : kRules)
    for (const bool per_channel : {false, true}) {
      const std::string text = fmt::format(R"(graph @se {{
  input %s : u8[1,5,1,1] quant<u8: scale = 2^-8, zp = 0>
  input %x : {xt}[1,5,6,9] quant<{xt}: scale = 2^-4, zp = {zp}>
  %ws = widen(%s) {{shift = 0, zero_point = 0}} : i32[1,5,1,1]
  %wx = widen(%x) {{shift = 1, zero_point = {zp}}} : i32[1,5,6,9]
  %p = mul(%ws, %wx) : i32[1,5,6,9]
  %y = requantize(%p) {{axis = {axis}, max = 255, min = 0, round = "{rule}", shift = [{shift}]}} : u8[1,5,6,9] quant<u8: scale = 2^-4, zp = 128>
  output %y
}})",
                                           fmt::arg("xt", per_channel ? "i16" : "u8"), fmt::arg("zp", per_channel ? -7 : 128),
                                           fmt::arg("axis", per_channel ? 1 : -1), fmt::arg("rule", rule),
                                           fmt::arg("shift", per_channel ? "9, 3, 7, 12, 1" : "7"));
      const codegen::KernelPlan plan = codegen::plan_kernels(ir::parse_graph(text, "se.qir"), targets::find_target(all_targets(), "host"));
      REQUIRE(plan.steps.size() == 1);
      CHECK(plan.steps[0].spec.attrs.count("fused_product") == 1);
      CHECK(plan.steps[0].spec.attrs.count("rq_narrow") == 1);
      check_kernels(text);
    }
}

// conv_graph's conv (C_out channels, rows x cols out) with a residual add after it, as the lowering
// leaves one: its result %y (2^-4, zero point -3) and a skip input (2^-3) widened onto the 2^-4
// grid and summed, the sum requantized to 2^-3 per channel (shifts 1..2) or per tensor.
std::string residual_graph(const std::string& conv, int64_t cout, int64_t rows, int64_t cols, const std::string& skip_type,
                           int64_t skip_zp, const std::string& rule, bool per_channel) {
  const std::string shape = fmt::format("[1,{},{},{}]", cout, rows, cols);
  std::string g = conv.substr(0, conv.rfind("  output"));
  g.insert(g.find('\n') + 1, fmt::format("  input %s : {t}{s} quant<{t}: scale = 2^-3, zp = {z}>\n", fmt::arg("t", skip_type),
                                          fmt::arg("s", shape), fmt::arg("z", skip_zp)));
  std::string shifts;
  for (int64_t c = 0; c < cout; ++c) shifts += fmt::format("{}{}", c ? ", " : "", 1 + c % 2);
  g += fmt::format(R"(  %wy = widen(%y) {{shift = 0, zero_point = -3}} : i32{s}
  %ws = widen(%s) {{shift = 1, zero_point = {z}}} : i32{s}
  %sum = add(%wy, %ws) : i32{s}
  %r = requantize(%sum) {{axis = {axis}, max = 127, min = -128, round = "{rule}", shift = [{shifts}]}} : i8{s} quant<i8: scale = 2^-3, zp = 0>
  output %r
}})",
                   fmt::arg("s", shape), fmt::arg("z", skip_zp), fmt::arg("axis", per_channel ? 1 : -1), fmt::arg("rule", rule),
                   fmt::arg("shifts", per_channel ? shifts : "1"));
  return g;
}

// The residual add after a conv runs in the conv's epilogue: one kernel, whose result is the add's,
// on every target (the dot-product conv's 3x3 and pointwise forms with VNNI and pair products, the
// generic conv of a grouped conv and of targets without a dot product); equal to the simulator in
// every backend.
TEST_CASE("residual adds fused into the conv before them equal the simulator") {
  struct Case {
    std::string conv;
    int64_t cout, rows, cols;
  };
  const std::vector<Case> convs{{conv_graph(16, 6, 9, 16, 1, 3, 1, 1, {1, 1, 1, 1}, 3, "half_even", true, "u8"), 16, 6, 9},
                                {conv_graph(24, 7, 9, 16, 1, 1, 1, 1, {0, 0, 0, 0}, 0, "half_up", true, "i8"), 16, 7, 9},
                                {conv_graph(16, 6, 9, 16, 4, 3, 1, 1, {1, 1, 1, 1}, 2, "half_even", false, "u8"), 16, 6, 9}};
  for (const Case& c : convs) {
    for (const std::string& rule : kRules) {
      const std::string g = residual_graph(c.conv, c.cout, c.rows, c.cols, rule == "floor" ? "i8" : "u8", rule == "floor" ? -5 : 7,
                                           rule, rule != "half_up");
      for (const targets::Target& target : all_targets()) {
        INFO(target.name);
        const ir::Graph graph = ir::parse_graph(g, "residual.qir");
        const codegen::KernelPlan plan = codegen::plan_kernels(graph, target);
        REQUIRE(plan.steps.size() == 1);
        REQUIRE(plan.steps.front().spec.attrs.count("residual"));
        REQUIRE(plan.steps.front().result->name == "r");
      }
      check_kernels(g);
    }
  }
}

// Weights [co][ci][k][k] of small magnitudes, but in one output channel of 8, at a random tap,
// weights of one sign above 64 (the extremes -128 and 127 among them) on which pmaddubsw could
// saturate: in input channels 0 and 1 (a pair unless the plan pairs the channels otherwise), or
// (`many`) in 2 more than half the input channels, zeros in the rest, so that whichever way the
// plan pairs the channels, two of them meet.
std::string saturating_weights(int64_t co, int64_t ci, int64_t k, bool many) {
  std::vector<int64_t> w;
  for (int64_t i = 0; i < co * ci * k * k; ++i) w.push_back(uniform(-24, 24));
  for (int64_t o = 3; o < co; o += 8) {
    const int64_t tap = uniform(0, k * k - 1), sign = o / 8 % 2 ? -1 : 1;
    for (int64_t c = 0; c < (many ? ci : 2); ++c)
      w[static_cast<size_t>((o * ci + c) * k * k + tap)] =
          c < (many ? ci / 2 + 2 : 2) ? std::array<int64_t, 3>{sign > 0 ? 127 : -128, sign * 100, sign * 65}[c % 3] : 0;
  }
  return fmt::format("[{}]", fmt::join(w, ", "));
}

// Byte pairs (AVX2 without VNNI): the host kernels sum 4 channels per step with pmaddubsw and
// pmaddwd, the weights clamped below pmaddubsw's saturation and the clamped-off parts added back
// per vector of output channels (saturating_pairs.h), the input channels paired as they come or,
// where that leaves many such parts and the input copy's gather costs less, by a matching. Equal
// to the simulator in both backends and layouts, with a fused residual add after it too (its
// arguments after the byte pairs'). Uniform random weights (a quarter of their pairs could
// saturate): the 16-bit pairs.
TEST_CASE("dot-product conv kernels sum byte pairs below pmaddubsw's saturation and add the clamped-off parts back") {
  const targets::Target& host = byte_pair_host();
  const std::string matched = conv_graph(64, 5, 9, 64, 1, 3, 1, 1, {1, 1, 1, 1}, 5, "half_even", true, "i8", -2, saturating_weights(64, 64, 3, true));
  const std::string strided = conv_graph(48, 9, 11, 16, 1, 3, 2, 2, {2, 1, 2, 0}, 0, "half_up", true, "u8", -2, saturating_weights(16, 48, 3, false));
  for (const auto& [text, reordered] : {std::pair{matched, true}, std::pair{strided, false}}) {
    const codegen::KernelSpec spec = codegen::plan_kernels(ir::parse_graph(text, "pairs.qir"), host).steps.front().spec;
    REQUIRE(spec.get_int("dot_saturating_pairs") == 1);
    REQUIRE(spec.get_int("dot_corrections") > 0);
    REQUIRE(spec.attrs.count("dot_channel_order") == (reordered ? 1 : 0));
    REQUIRE(spec.args[1].shape.back() == 4);
    REQUIRE(spec.args[1].dtype == ir::DType::i8);
    if (__builtin_cpu_supports("avx2")) CHECK(codegen::emit_kernel_assembly(spec).find("vpmaddubsw") != std::string::npos);
    check_kernels(text, {host});
    check_kernels(text, {host}, codegen::Layout::channels_last);
  }
  check_kernels(residual_graph(matched, 64, 5, 9, "u8", 7, "half_even", true), {host}, codegen::Layout::channels_last);
  const std::string uniform_weights = conv_graph(64, 5, 9, 20, 1, 3, 1, 1, {1, 1, 1, 1}, 5, "half_even", true, "i8");
  const codegen::KernelSpec spec = codegen::plan_kernels(ir::parse_graph(uniform_weights, "uniform.qir"), host).steps.front().spec;
  CHECK(spec.attrs.count("dot_saturating_pairs") == 0);
  CHECK(spec.args[1].shape.back() == 2);
}

// A per-channel requantize's attributes: random bias fractions and right shifts of 0 to 10.
std::string requantize_attrs(int64_t channels, int64_t min, int64_t max, const std::string& rule) {
  const std::string frac = values(channels, 0, 3);
  return fmt::format("axis = 1, bias_frac = {}, max = {}, min = {}, round = \"{}\", shift = {}", frac, max, min, rule,
                     values(channels, 0, 10));
}

// A stage of a ResNet in miniature: a stem conv, a max pool, a basic block (two 3x3 convs, the
// residual add fused into the second) and after it another 3x3 conv (a second output) and a global
// pool, flattened, into a matmul. Their 3x3 convs' weights saturate pmaddubsw as the channels come
// (saturating_weights), in the same input channels for each.
std::string stage_graph(int64_t c, int64_t h, int64_t w) {
  auto rq = [&](const std::string& t) { return requantize_attrs(c, t == "u8" ? 0 : -128, t == "u8" ? 255 : 127, "half_even"); };
  return fmt::format(R"(graph @stage {{
  input %x : u8[1,8,{h},{w}] quant<u8: scale = 2^-5, zp = 0>
  const %w0 : i8[{c},8,3,3] = {w0}
  const %b0 : i32[{c}] = {b0}
  %a0 = conv(%x, %w0, %b0) {{dilations = [1, 1], group = 1, pads = [1, 1, 1, 1], strides = [1, 1], x_zero_point = 0}} : i32[1,{c},{h},{w}]
  %s0 = requantize(%a0) {{{rq_u8}}} : u8[1,{c},{h},{w}] quant<u8: scale = 2^-4, zp = 0>
  %m = maxpool(%s0) {{ceil_mode = 0, dilations = [1, 1], kernel_shape = [3, 3], pads = [1, 1, 1, 1], strides = [1, 1]}} : u8[1,{c},{h},{w}] quant<u8: scale = 2^-4, zp = 0>
  const %w1 : i8[{c},{c},3,3] = {w1}
  const %b1 : i32[{c}] = {b1}
  %a1 = conv(%m, %w1, %b1) {{dilations = [1, 1], group = 1, pads = [1, 1, 1, 1], strides = [1, 1], x_zero_point = 0}} : i32[1,{c},{h},{w}]
  %t1 = requantize(%a1) {{{rq_u8}}} : u8[1,{c},{h},{w}] quant<u8: scale = 2^-4, zp = 0>
  const %w2 : i8[{c},{c},3,3] = {w2}
  const %b2 : i32[{c}] = {b2}
  const %rb2 : i32[{c}] = {rb2}
  %a2 = conv(%t1, %w2, %b2) {{dilations = [1, 1], group = 1, pads = [1, 1, 1, 1], strides = [1, 1], x_zero_point = 0}} : i32[1,{c},{h},{w}]
  %t2 = requantize(%a2, %rb2) {{{rq_i8}}} : i8[1,{c},{h},{w}] quant<i8: scale = 2^-4, zp = 0>
  %l = widen(%t2) {{shift = 0, zero_point = 0}} : i32[1,{c},{h},{w}]
  %r = widen(%m) {{shift = 1, zero_point = 0}} : i32[1,{c},{h},{w}]
  %sum = add(%l, %r) : i32[1,{c},{h},{w}]
  %o = requantize(%sum) {{axis = -1, max = 255, min = 0, round = "half_even", shift = [1]}} : u8[1,{c},{h},{w}] quant<u8: scale = 2^-3, zp = 0>
  const %w3 : i8[{c},{c},3,3] = {w3}
  %a3 = conv(%o, %w3) {{dilations = [1, 1], group = 1, pads = [1, 1, 1, 1], strides = [2, 2], x_zero_point = 0}} : i32[1,{c},{oh},{ow}]
  %y3 = requantize(%a3) {{{rq_i8}}} : i8[1,{c},{oh},{ow}] quant<i8: scale = 2^-4, zp = 0>
  %g = avgpool(%o) {{ceil_mode = 0, count_include_pad = 0, dilations = [1, 1], kernel_shape = [{h}, {w}], pads = [0, 0, 0, 0], strides = [1, 1]}} : i32[1,{c},1,1]
  %f = reshape(%g) {{shape = [1, {c}]}} : i32[1,{c}]
  const %wf : i8[{c},10] = {wf}
  %af = matmul(%f, %wf) : i32[1,10]
  %y = requantize(%af) {{axis = -1, max = 127, min = -128, round = "half_even", shift = [12]}} : i8[1,10] quant<i8: scale = 2^-2, zp = 0>
  output %y3
  output %y
}})",
                     fmt::arg("c", c), fmt::arg("h", h), fmt::arg("w", w), fmt::arg("oh", out_size(h, 3, 2, 1, 1, 1)),
                     fmt::arg("ow", out_size(w, 3, 2, 1, 1, 1)), fmt::arg("w0", values(c * 8 * 9, -128, 127)),
                     fmt::arg("b0", values(c, -5000, 5000)), fmt::arg("w1", saturating_weights(c, c, 3, true)),
                     fmt::arg("b1", values(c, -5000, 5000)), fmt::arg("w2", saturating_weights(c, c, 3, true)),
                     fmt::arg("b2", values(c, -5000, 5000)), fmt::arg("rb2", values(c, -3000, 3000)),
                     fmt::arg("w3", saturating_weights(c, c, 3, true)), fmt::arg("wf", values(c * 10, -128, 127)),
                     fmt::arg("rq_u8", rq("u8")), fmt::arg("rq_i8", rq("i8")));
}

// The plan's kernels one after another, each reading what the kernels before it wrote (the
// tensors between them in the plan's channel orders): the plan's outputs by name.
std::map<std::string, ir::TensorData> run_plan(const codegen::KernelPlan& plan, const std::vector<ir::TensorData>& inputs, bool c_schedule) {
  std::map<const ir::Value*, ir::TensorData> tensors;
  for (size_t i = 0; i < inputs.size(); ++i) tensors[plan.inputs[i]] = inputs[i];
  for (const codegen::Step& s : plan.steps) {
    if (s.alias) {  // the operand's bytes in the result's shape
      ir::TensorData view(s.result->type.dtype, s.result->type.shape);
      const ir::TensorData& from = tensors.at(s.args[0].value);
      std::copy(from.bytes().begin(), from.bytes().end(), view.mutable_bytes().begin());
      tensors[s.result] = std::move(view);
      continue;
    }
    std::vector<const ir::TensorData*> args;
    for (const codegen::Arg& a : s.args) args.push_back(a.value ? &tensors.at(a.value) : &plan.constants[a.constant].data);
    tensors[s.result] = codegen::realize_kernel(s.spec, args, c_schedule);
  }
  std::map<std::string, ir::TensorData> outputs;
  for (const ir::Value* v : plan.outputs) outputs[v->name] = tensors.at(v);
  return outputs;
}

// With byte pairs, the tensors between kernels hold their channels in the order the convs reading
// them pair them (pair_order.h): the block's inner tensor in its second conv's, the stage's stream
// (the stem's result, the pool's, the block's) in one order for both 3x3 convs that read it, the
// matmul's weight rows in that order too; the input and the outputs as they are. Each kernel equals
// the simulator (its tensors compared in the plan's orders), and so do the kernels run as a chain,
// in both backends and layouts. Other dot-product forms and C-only plans keep every order.
TEST_CASE("byte-pair plans store the tensors between kernels in the channel order their convs pair") {
  const targets::Target& host = byte_pair_host();
  const std::string text = stage_graph(32, 6, 7);
  const ir::Graph g = ir::parse_graph(text, "stage.qir");
  ir::verify(g);
  std::vector<ir::TensorData> inputs;
  std::map<std::string, ir::TensorData> want;
  for (const ir::Value* in : g.inputs()) inputs.push_back(random_tensor(*in));
  sim::simulate_integer(g, inputs, [&](const ir::Op& op, const ir::TensorData& d) { want[op.outputs[0]->name] = d; });
  for (codegen::Layout layout : {codegen::Layout::planar, codegen::Layout::channels_last}) {
    const codegen::KernelPlan plan = codegen::plan_kernels(g, host, layout);
    auto order = [&](const std::string& name) {
      auto it = plan.channel_orders.find(g.find_value(name));
      return it == plan.channel_orders.end() ? std::vector<int32_t>{} : it->second;
    };
    for (const char* name : {"t1", "s0", "m", "o"}) {
      INFO(name);
      std::vector<int32_t> sorted = order(name);
      REQUIRE(sorted.size() == 32);
      CHECK(!std::is_sorted(sorted.begin(), sorted.end()));
      std::sort(sorted.begin(), sorted.end());
      CHECK(sorted == codegen::identity_order(32));
    }
    CHECK(order("s0") == order("o"));
    for (const char* name : {"x", "y3", "y", "af"}) CHECK(order(name).empty());
    // Every 3x3 conv reading a tensor in its order sums the pairs as they are stored: no gather.
    for (const codegen::Step& s : plan.steps)
      if (s.spec.attrs.count("dot_saturating_pairs")) CHECK(s.spec.attrs.count("dot_channel_order") == 0);
    // report.json names each permuted result's order (for reading tensors through the layer hooks).
    const std::string report = codegen::report_json({"stage", "stage.qir", &host, 0}, plan, codegen::plan_memory(plan));
    size_t named = 0, permuted = 0;
    for (size_t at = report.find("\"channel_order\""); at != std::string::npos; at = report.find("\"channel_order\"", at + 1)) ++named;
    for (const codegen::Step& s : plan.steps) permuted += plan.channel_orders.count(s.result);
    CHECK(named == permuted);
    CHECK(permuted >= 3);  // the stem's, the block's inner and the block's result
    for (bool c_schedule : {false, true}) {
      INFO("C schedule " << c_schedule);
      for (const auto& [name, got] : run_plan(plan, inputs, c_schedule)) CHECK(got.bytes() == want.at(name).bytes());
    }
  }
  check_kernels(text, {host});
  check_kernels(text, {host}, codegen::Layout::channels_last);
  for (const targets::Target* t : {&vnni_host(), &pair_host()}) CHECK(codegen::plan_kernels(g, *t).channel_orders.empty());
  CHECK(codegen::plan_kernels(g, host, codegen::Layout::planar, codegen::WeightsFor::c).channel_orders.empty());
}

// A chain of a dense 3x3 conv, a depthwise 3x3 of stride 2, a clip and two 1x1 convs, each conv
// with its requantize: between them every tensor can be channels last.
std::string conv_chain_graph(int64_t c, int64_t h, int64_t w, int64_t zp, const std::string& rule) {
  const int64_t oh = out_size(h, 3, 2, 1, 1, 1), ow = out_size(w, 3, 2, 1, 1, 1), c2 = 2 * c;
  auto rq = [&](int64_t channels) { return requantize_attrs(channels, zp == 0 ? 0 : -128, 120, rule); };
  const std::string t = zp == 0 ? "u8" : "i8";
  return fmt::format(R"(graph @chain {{
  input %x : {t}[1,{c},{h},{w}] quant<{t}: scale = 2^-5, zp = {zp}>
  const %w1 : i8[{c2},{c},3,3] = {w1}
  const %b1 : i32[{c2}] = {b1}
  %a1 = conv(%x, %w1, %b1) {{dilations = [1, 1], group = 1, pads = [1, 1, 1, 1], strides = [1, 1], x_zero_point = {zp}}} : i32[1,{c2},{h},{w}]
  %y1 = requantize(%a1) {{{rq1}}} : {t}[1,{c2},{h},{w}] quant<{t}: scale = 2^-4, zp = {zp}>
  const %w2 : i8[{c2},1,3,3] = {w2}
  %a2 = conv(%y1, %w2) {{dilations = [1, 1], group = {c2}, pads = [1, 1, 1, 1], strides = [2, 2], x_zero_point = {zp}}} : i32[1,{c2},{oh},{ow}]
  %y2 = requantize(%a2) {{{rq2}}} : {t}[1,{c2},{oh},{ow}] quant<{t}: scale = 2^-4, zp = {zp}>
  %k = clip(%y2) {{max = 5.0, min = -2.0}} : {t}[1,{c2},{oh},{ow}] quant<{t}: scale = 2^-4, zp = {zp}>
  const %w3 : i8[{c},{c2},1,1] = {w3}
  %a3 = conv(%k, %w3) {{dilations = [1, 1], group = 1, pads = [0, 0, 0, 0], strides = [1, 1], x_zero_point = {zp}}} : i32[1,{c},{oh},{ow}]
  %y3 = requantize(%a3) {{{rq3}}} : {t}[1,{c},{oh},{ow}] quant<{t}: scale = 2^-4, zp = {zp}>
  const %w4 : i8[{c},{c},1,1] = {w4}
  %a4 = conv(%y3, %w4) {{dilations = [1, 1], group = 1, pads = [0, 0, 0, 0], strides = [1, 1], x_zero_point = {zp}}} : i32[1,{c},{oh},{ow}]
  %y4 = requantize(%a4) {{{rq4}}} : {t}[1,{c},{oh},{ow}] quant<{t}: scale = 2^-4, zp = {zp}>
  output %y4
}})",
                     fmt::arg("t", t), fmt::arg("c", c), fmt::arg("c2", c2), fmt::arg("h", h), fmt::arg("w", w), fmt::arg("zp", zp),
                     fmt::arg("oh", oh), fmt::arg("ow", ow), fmt::arg("w1", values(c2 * c * 9, -128, 127)),
                     fmt::arg("b1", values(c2, -5000, 5000)), fmt::arg("rq1", rq(c2)), fmt::arg("w2", values(c2 * 9, -128, 127)),
                     fmt::arg("rq2", rq(c2)), fmt::arg("w3", values(c * c2, -128, 127)), fmt::arg("rq3", rq(c)),
                     fmt::arg("w4", values(c * c, -128, 127)), fmt::arg("rq4", rq(c)));
}

// Channels-last tensors (activation_layout.h) between the chain's kernels, on every target and in
// both backends' schedules: the interior tensors take the layout, the model's input and output
// stay planar, and every kernel equals the simulator (the result compared in planar order).
TEST_CASE("conv chains with channels-last tensors between kernels equal the simulator") {
  struct Case {
    int64_t c, h, w, zp;
    std::string rule;
  };
  for (const Case& k : {Case{16, 7, 10, 0, "half_even"}, Case{8, 6, 13, 3, "half_up"}, Case{24, 5, 6, 0, "half_away"}}) {
    const std::string text = conv_chain_graph(k.c, k.h, k.w, k.zp, k.rule);
    const ir::Graph g = ir::parse_graph(text, "chain.qir");
    for (const targets::Target& t : all_targets()) {
      const codegen::KernelPlan plan = codegen::plan_kernels(g, t, codegen::Layout::channels_last);
      REQUIRE(plan.steps.size() == 5);
      CHECK(plan.steps.front().spec.args.front().layout == codegen::Layout::planar);
      CHECK(plan.steps.front().spec.result().layout == codegen::Layout::channels_last);
      CHECK(plan.steps[2].spec.kind == codegen::KernelKind::clip);
      CHECK(plan.steps[2].spec.result().layout == codegen::Layout::channels_last);
      CHECK(plan.steps.back().spec.args.front().layout == codegen::Layout::channels_last);
      CHECK(plan.steps.back().spec.result().layout == codegen::Layout::planar);
    }
    check_kernels(text, all_targets(), codegen::Layout::channels_last);
  }
}

// Max, average and global average pooling between channels-last kernels: the pools read and
// write channels last (the global pool's one pixel per channel is the same memory either way).
TEST_CASE("pools between channels-last kernels equal the simulator") {
  for (const std::string rule : {"half_even", "half_away"}) {
    auto rq = [&](int64_t channels) { return requantize_attrs(channels, 0, 255, rule); };
    const std::string text = fmt::format(R"(graph @pools {{
  input %x : u8[1,8,9,12] quant<u8: scale = 2^-5, zp = 0>
  const %w1 : i8[24,8,3,3] = {w1}
  %a1 = conv(%x, %w1) {{dilations = [1, 1], group = 1, pads = [1, 1, 1, 1], strides = [1, 1], x_zero_point = 0}} : i32[1,24,9,12]
  %y1 = requantize(%a1) {{{rq1}}} : u8[1,24,9,12] quant<u8: scale = 2^-4, zp = 0>
  %m = maxpool(%y1) {{ceil_mode = 0, dilations = [1, 1], kernel_shape = [3, 3], pads = [1, 1, 1, 1], strides = [2, 2]}} : u8[1,24,5,6] quant<u8: scale = 2^-4, zp = 0>
  const %w2 : i8[24,1,3,3] = {w2}
  %a2 = conv(%m, %w2) {{dilations = [1, 1], group = 24, pads = [1, 1, 1, 1], strides = [1, 1], x_zero_point = 0}} : i32[1,24,5,6]
  %y2 = requantize(%a2) {{{rq2}}} : u8[1,24,5,6] quant<u8: scale = 2^-4, zp = 0>
  %p = avgpool(%y2) {{ceil_mode = 0, count_include_pad = 0, dilations = [1, 1], kernel_shape = [3, 3], pads = [1, 1, 1, 1], round = "{rule}", shift = 0, strides = [1, 1]}} : u8[1,24,5,6] quant<u8: scale = 2^-4, zp = 0>
  const %w3 : i8[24,24,1,1] = {w3}
  %a3 = conv(%p, %w3) {{dilations = [1, 1], group = 1, pads = [0, 0, 0, 0], strides = [1, 1], x_zero_point = 0}} : i32[1,24,5,6]
  %y3 = requantize(%a3) {{{rq3}}} : u8[1,24,5,6] quant<u8: scale = 2^-4, zp = 0>
  %g = avgpool(%y3) {{ceil_mode = 0, count_include_pad = 0, dilations = [1, 1], kernel_shape = [5, 6], pads = [0, 0, 0, 0], round = "{rule}", shift = -1, strides = [1, 1]}} : u8[1,24,1,1] quant<u8: scale = 2^-5, zp = 0>
  output %g
}})",
                                         fmt::arg("w1", values(24 * 8 * 9, -128, 127)), fmt::arg("rq1", rq(24)),
                                         fmt::arg("w2", values(24 * 9, -128, 127)), fmt::arg("rq2", rq(24)),
                                         fmt::arg("w3", values(24 * 24, -128, 127)), fmt::arg("rq3", rq(24)), fmt::arg("rule", rule));
    const ir::Graph g = ir::parse_graph(text, "pools.qir");
    for (const targets::Target& t : all_targets()) {
      const codegen::KernelPlan plan = codegen::plan_kernels(g, t, codegen::Layout::channels_last);
      REQUIRE(plan.steps.size() == 6);
      for (size_t i : {1, 3}) CHECK(plan.steps[i].spec.args.front().layout == codegen::Layout::channels_last);
      for (size_t i : {1, 3}) CHECK(plan.steps[i].spec.result().layout == codegen::Layout::channels_last);
      CHECK(plan.steps.back().spec.args.front().layout == codegen::Layout::channels_last);
    }
    check_kernels(text, all_targets(), codegen::Layout::channels_last);
  }
}

// Identical kernels are generated once: two layers of the same shapes, zero points and rounding
// rule call one kernel; their weights, biases and shifts are data.
TEST_CASE("identical layers share one kernel") {
  const std::string one = conv_graph(8, 6, 6, 8, 1, 3, 1, 1, {1, 1, 1, 1}, 0, "half_even", true);
  // A second conv of the same input with other weights, biases and shifts: the same text renamed.
  std::string text = one.substr(0, one.rfind("  output"));
  const std::string layer = one.substr(one.find("  const %w"), one.rfind("  output") - one.find("  const %w"));
  std::string second;
  for (size_t i = 0; i < layer.size();) {
    bool renamed = false;
    for (const std::string name : {"%w", "%b", "%rb", "%acc", "%y"})
      if (layer.compare(i, name.size(), name) == 0 && !std::isalnum(static_cast<unsigned char>(layer[i + name.size()]))) {
        second += name + "2";
        i += name.size();
        renamed = true;
        break;
      }
    if (!renamed) second += layer[i++];
  }
  text += second + "  output %y\n  output %y2\n}";
  ir::Graph g = ir::parse_graph(text, "share.qir");
  for (const targets::Target& t : all_targets()) {
    const codegen::KernelPlan plan = codegen::plan_kernels(g, t);
    REQUIRE(plan.steps.size() == 2);
    CHECK(plan.steps[0].spec.name() == plan.steps[1].spec.name());
    CHECK(plan.steps[0].args[1].constant != plan.steps[1].args[1].constant);
  }
}

TEST_CASE("add, sub, widen and clip kernels equal the simulator, with broadcasting") {
  check_kernels(R"(graph @ew {
  input %a : i8[2,3,17] quant<i8: scale = 2^-4, zp = 5>
  input %b : i8[3,1] quant<i8: scale = 2^-2, zp = -1>
  %wa = widen(%a) {shift = 0, zero_point = 5} : i32[2,3,17]
  %wb = widen(%b) {shift = 2, zero_point = -1} : i32[3,1]
  %s = add(%wa, %wb) : i32[2,3,17]
  %d = sub(%s, %wb) : i32[2,3,17]
  %y = requantize(%d) {axis = -1, max = 127, min = -128, round = "half_even", shift = [1]} : i8[2,3,17] quant<i8: scale = 2^-3, zp = 0>
  %c = clip(%y) {max = 100.0, min = -3.5} : i8[2,3,17] quant<i8: scale = 2^-3, zp = 0>
  output %c
})");
}

TEST_CASE("lut kernels equal the simulator: 8- and 16-bit indices, signed and unsigned, any result type") {
  for (const auto& [x, y, lo, hi] : std::vector<std::tuple<std::string, std::string, int64_t, int64_t>>{
           {"i8", "u8", 0, 255}, {"u8", "i8", -128, 127}, {"i16", "i16", -32768, 32767}, {"u16", "i32", -100000, 100000}}) {
    const int64_t entries = int64_t{1} << (x.ends_with("16") ? 16 : 8);
    check_kernels(fmt::format(R"(graph @lut {{
  input %x : {x}[2,3,37] quant<{x}: scale = 2^-4, zp = 0>
  const %table : {y}[{n}] = {t}
  %y = lut(%x, %table) : {y}[2,3,37]
  output %y
}})",
                              fmt::arg("x", x), fmt::arg("y", y), fmt::arg("n", entries), fmt::arg("t", values(entries, lo, hi))));
  }
}

TEST_CASE("pooling kernels equal the simulator: padding, ceil mode, count_include_pad, divisor shifts") {
  for (const auto& [k, s, pad, ceil, include, shift] :
       std::vector<std::array<int64_t, 6>>{{3, 1, 1, 0, 0, -1}, {3, 2, 1, 1, 1, 2}, {2, 2, 0, 1, 0, 0}, {7, 1, 0, 0, 0, -3}}) {
    const int64_t h = 7, w = 19;
    const int64_t oh = out_size(h, k, s, pad, pad, 1, ceil != 0), ow = out_size(w, k, s, pad, pad, 1, ceil != 0);
    const std::string attrs = fmt::format("ceil_mode = {}, dilations = [1, 1], kernel_shape = [{}, {}], pads = [{}, {}, {}, {}], strides = [{}, {}]",
                                          ceil, k, k, pad, pad, pad, pad, s, s);
    for (const std::string& rule : kRules)
      check_kernels(fmt::format(R"(graph @pool {{
  input %x : i8[1,3,{h},{w}] quant<i8: scale = 2^-3, zp = -2>
  %m = maxpool(%x) {{{attrs}}} : i8[1,3,{oh},{ow}] quant<i8: scale = 2^-3, zp = -2>
  %a = avgpool(%x) {{{attrs}, count_include_pad = {inc}, round = "{rule}", shift = {shift}}} : u8[1,3,{oh},{ow}] quant<u8: scale = 2^-4, zp = 3>
  output %m
  output %a
}})",
                                fmt::arg("h", h), fmt::arg("w", w), fmt::arg("oh", oh), fmt::arg("ow", ow),
                                fmt::arg("attrs", attrs), fmt::arg("inc", include), fmt::arg("rule", rule),
                                fmt::arg("shift", shift)));
  }
}

TEST_CASE("layout kernels equal the simulator: concat, pad modes, resize modes, transpose, reshape") {
  for (const char* mode : {"constant", "reflect", "edge"})
    check_kernels(fmt::format(R"(graph @layout {{
  input %a : i8[1,2,5,6] quant<i8: scale = 2^-3, zp = 0>
  input %b : i8[1,3,5,6] quant<i8: scale = 2^-3, zp = 0>
  %c = concat(%a, %b, %a) {{axis = 1}} : i8[1,7,5,6] quant<i8: scale = 2^-3, zp = 0>
  %p = pad(%c) {{mode = "{mode}", pads = [0, 0, 2, 1, 0, 0, 1, 3], value = -7.0}} : i8[1,7,8,10] quant<i8: scale = 2^-3, zp = 0>
  %t = transpose(%p) {{perm = [0, 2, 3, 1]}} : i8[1,8,10,7] quant<i8: scale = 2^-3, zp = 0>
  %r = reshape(%t) {{shape = [8, 70]}} : i8[8,70] quant<i8: scale = 2^-3, zp = 0>
  output %r
}})",
                              fmt::arg("mode", mode)));
  for (const auto& [coordinates, nearest] : std::vector<std::pair<std::string, std::string>>{
           {"asymmetric", "floor"}, {"half_pixel", "round_prefer_floor"}, {"align_corners", "round_prefer_ceil"},
           {"pytorch_half_pixel", "ceil"}})
    check_kernels(fmt::format(R"(graph @resize {{
  input %x : u8[1,2,5,7] quant<u8: scale = 2^-3, zp = 9>
  %y = resize(%x) {{coordinate_transformation_mode = "{c}", nearest_mode = "{n}", scales = [1.0, 1.0, 2.0, 1.5], sizes = [1, 2, 10, 10]}} : u8[1,2,10,10] quant<u8: scale = 2^-3, zp = 9>
  output %y
}})",
                              fmt::arg("c", coordinates), fmt::arg("n", nearest)));
}

// A conv's tile copy counts the input's bytes: 16-bit input rows of 64 channels are 8 KiB each, so
// a 3x3 conv's three rows exceed Halide's 16 KiB stack limit and the kernel copies per output
// vector instead. Counted as elements (12 KiB), the tile fit, and the host object took its 24 KiB
// copy from halide_malloc, which firmware has not.
TEST_CASE("conv tiles count 16-bit inputs in bytes: host objects never call halide_malloc") {
  const std::string g = fmt::format(R"(graph @wide {{
  input %x : i16[1,64,12,60] quant<i16: scale = 2^-10, zp = 0>
  const %w : i16[8,64,3,3] = {wv}
  %acc = conv(%x, %w) {{dilations = [1, 1], group = 1, pads = [1, 1, 1, 1], strides = [1, 1]}} : i64[1,8,12,60]
  %y = requantize(%acc) {{axis = 1, max = 32767, min = -32768, round = "half_even", shift = {shift}}} : i16[1,8,12,60] quant<i16: scale = 2^-4, zp = 0>
  output %y
}})",
                                    fmt::arg("wv", values(8 * 64 * 9, -32768, 32767)), fmt::arg("shift", values(8, 20, 30)));
  const codegen::KernelPlan plan = codegen::plan_kernels(ir::parse_graph(g, "wide.qir"), targets::find_target(all_targets(), "host"));
  REQUIRE(plan.steps.size() == 1);
  CHECK(plan.steps.front().spec.get_string("padded_copy") == "vector");
  const std::filesystem::path object = std::filesystem::temp_directory_path() / ("qatc-test-" + plan.steps.front().spec.name() + ".o");
  codegen::emit_kernel_object(plan.steps.front().spec, object);
  std::ifstream in(object, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(object);
  CHECK(!bytes.empty());
  CHECK(bytes.find("halide_malloc") == std::string::npos);
  check_kernels(g);
}

TEST_CASE("conv and matmul kernels with 64-bit accumulators (16x16-bit products) equal the simulator") {
  for (const std::string& rule : kRules) {
    CAPTURE(rule);
    check_kernels(fmt::format(R"(graph @wide {{
  input %x : i16[1,4,6,7] quant<i16: scale = 2^-10, zp = 0>
  const %w : i16[6,4,3,3] = {wv}
  const %rb : i64[6] = {rbv}
  %acc = conv(%x, %w) {{dilations = [1, 1], group = 1, pads = [1, 1, 1, 1], strides = [1, 1]}} : i64[1,6,6,7]
  %y = requantize(%acc, %rb) {{axis = 1, bias_frac = {frac}, max = 32767, min = -32768, round = "{rule}", shift = {shift}}} : i16[1,6,6,7] quant<i16: scale = 2^-4, zp = 0>
  input %a : u16[3,40] quant<u16: scale = 2^-12, zp = 1000>
  const %m : i16[40,5] = {mv}
  %macc = matmul(%a, %m) {{x_zero_point = 1000}} : i64[3,5]
  %z = requantize(%macc) {{axis = -1, max = 127, min = -128, round = "{rule}", shift = [24]}} : i8[3,5] quant<i8: scale = 2^-3, zp = 0>
  output %y
  output %z
}})",
                              fmt::arg("wv", values(6 * 4 * 9, -32768, 32767)), fmt::arg("rbv", values(6, -1000000, 1000000)),
                              fmt::arg("frac", values(6, 0, 3)), fmt::arg("rule", rule), fmt::arg("shift", values(6, 14, 40)),
                              fmt::arg("mv", values(40 * 5, -32768, 32767))));
  }
}
