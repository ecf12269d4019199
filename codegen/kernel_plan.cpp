#include "codegen/kernel_plan.h"

#include "codegen/activation_layout.h"
#include "codegen/pair_order.h"
#include "codegen/saturating_pairs.h"
#include "codegen/schedule.h"
#include "ir/error.h"
#include "sim/qat/layout.h"
#include "sim/qat/window.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <set>

namespace qatc::codegen {

namespace {

using K = ir::OpKind;

// Requantize shifts the generated kernels compute exactly in 64-bit arithmetic: a 32-bit
// accumulator shifted left by at most 30 plus a 32-bit bias stays below 2^62. Right shifts beyond
// 40 give the results of 40 (the value is below 2^34 in magnitude, so floor and fraction class no
// longer change), and are clamped there.
constexpr int64_t kMaxLeftShift = 30;
constexpr int64_t kMaxRightShift = 40;
// A 64-bit accumulator (16x16-bit products) is requantized only by right shifts, and only when its
// bound (from the weights) plus the bias stays below 2^61: then shifts beyond 62 give the results
// of 62, and every intermediate fits int64.
constexpr int64_t kMaxWideRightShift = 62;
constexpr int kWideBoundBits = 61;
// The average pool's sum is shifted (or its divisor scaled) by at most this, in 64 bits.
constexpr int64_t kMaxPoolShift = 30;

class Planner {
 public:
  Planner(const ir::Graph& g, const targets::Target& t, const Layouts& layouts, WeightsFor weights)
      : g_(g), t_(t), layouts_(layouts), weights_for_(weights) {}

  KernelPlan run() {
    plan_.target = t_.name;
    if (weights_for_ == WeightsFor::llvm) plan_.channel_orders = plan_channel_orders(g_, t_);
    find_boundaries();
    find_fused_sums();
    find_residual_convs();
    const std::vector<ir::Op*> ops = g_.ops();
    for (const ir::Op* op : ops) {
      if (skipped_.count(op) || folded_.count(op) || deferred_.count(op)) continue;
      plan_op(*op);
    }
    return std::move(plan_);
  }

 private:
  // The firmware takes the quantized inputs and returns the quantized outputs: graph inputs are
  // read through one quantize op, graph outputs are dequantized integers (or integers).
  void find_boundaries() {
    for (const ir::Value* in : g_.inputs()) {
      if (ir::is_integer(in->type.dtype)) {
        plan_.inputs.push_back(in);
        plan_.input_rounding.emplace_back();
        plan_.float_inputs.push_back(nullptr);
        continue;
      }
      const std::vector<ir::Op*> users = g_.users(in);
      if (users.size() != 1 || users[0]->kind != K::quantize)
        fail("graph input '{}': a float input must be read by exactly one quantize op to be compiled", in->name);
      plan_.inputs.push_back(users[0]->outputs[0]);
      plan_.input_rounding.push_back(users[0]->get_string("round"));
      plan_.float_inputs.push_back(in);
      skipped_.insert(users[0]);
    }
    for (const ir::Value* out : g_.outputs()) {
      const ir::Op* p = out->producer;
      if (p && p->kind == K::dequantize && g_.users(out).empty()) {
        plan_.outputs.push_back(p->inputs[0]);
        skipped_.insert(p);
      } else if (ir::is_integer(out->type.dtype)) {
        plan_.outputs.push_back(out);
      } else {
        fail("graph output '{}': only integer tensors and dequantized integer tensors can be compiled", out->name);
      }
    }
    for (const ir::Value* v : plan_.outputs)
      if (v->is_constant()) fail("graph output '{}' is a constant; there is nothing to compile", v->name);
  }

  int add_constant(std::string what, ir::TensorData data) {
    plan_.constants.push_back({std::move(what), std::move(data)});
    return static_cast<int>(plan_.constants.size()) - 1;
  }

  // A runtime tensor or a graph constant (copied into the plan's constants).
  Arg operand(const ir::Op& op, size_t i) {
    const ir::Value* v = op.inputs[i];
    if (!v->is_constant()) return {v, -1};
    return {nullptr, add_constant(fmt::format("operand {} of {}", i, op.describe()), *v->data)};
  }

  const ir::TensorData& constant_operand(const ir::Op& op, size_t i, std::string_view role) {
    if (!op.inputs[i]->is_constant()) fail("{}: its {} must be a constant to be compiled", op.describe(), role);
    return *op.inputs[i]->data;
  }

  // The order tensor v's channels are stored in (pair_order.h), or null: as they come.
  const std::vector<int32_t>* order_of(const ir::Value* v) const {
    auto it = plan_.channel_orders.find(v);
    return it == plan_.channel_orders.end() ? nullptr : &it->second;
  }

  // A conv's weights with their rows in its result's stored channel order and their columns in its
  // input's, and its bias in its result's (each as it comes where that is).
  const ir::TensorData& conv_weights(const ir::Op& conv) {
    const ir::TensorData* w = &constant_operand(conv, 1, "weight");
    if (const auto* rows = order_of(conv.outputs[0])) w = &permuted_.emplace_back(permute_channels(*w, *rows, 0));
    if (const auto* columns = order_of(conv.inputs[0])) w = &permuted_.emplace_back(permute_channels(*w, *columns, 1));
    return *w;
  }
  const ir::TensorData* conv_bias(const ir::Op& conv) {
    if (conv.inputs.size() < 3) return nullptr;
    const ir::TensorData& b = constant_operand(conv, 2, "bias");
    const auto* order = order_of(conv.outputs[0]);
    return order ? &permuted_.emplace_back(permute_channels(b, *order, 0)) : &b;
  }

  Step& add_step(const ir::Op& op, KernelKind kind, const ir::Value* result) {
    Step& s = plan_.steps.emplace_back();
    s.layer = op.name.empty() ? op.outputs[0]->name : op.name;
    s.spec.kind = kind;
    s.result = result;
    return s;
  }

  void finish(Step& s) {
    for (const Arg& a : s.args) {
      const ConstArray* c = a.value ? nullptr : &plan_.constants[a.constant];
      s.spec.args.push_back(c ? ArgSpec{c->data.dtype(), c->data.shape()} : arg_of(*a.value));
      check_indexable(c ? c->what : "tensor '" + a.value->name + "'", s.spec.args.back());
    }
    s.spec.args.push_back(arg_of(*s.result));
    check_indexable("tensor '" + s.result->name + "'", s.spec.args.back());
  }

  // A tensor of 2^32 elements compiled to kernels whose 32-bit strides overflowed: refused when its
  // kernel is planned, before anything is generated.
  void check_indexable(const std::string& what, const ArgSpec& a) const {
    const int64_t bytes = ir::num_elements(a.shape) * static_cast<int64_t>(ir::byte_size(a.dtype));  // >= elements
    if (bytes > kMaxKernelIndex)
      fail("{}: shape [{}] of {} ({} bytes) is beyond the {} bytes kernels for target '{}' can index (32-bit)", what,
           fmt::join(a.shape, ","), ir::dtype_name(a.dtype), bytes, kMaxKernelIndex, plan_.target);
  }

  // A widened tensor, or a sum or product of two, that only a requantize reads: an add lowered from
  // fake-quant (each operand shifted onto the common grid, the sum requantized to the output's
  // grid), a tensor moved from one grid to another (a re-quantization after a clip), or a mul (a
  // squeeze-excitation block scaling each channel). One kernel reads the 8/16-bit operands and
  // writes the requantized result, no int32 tensors between. A sum's operands have the result's
  // shape; a product's may broadcast (numpy's rule, as the mul kernel reads them).
  bool fusable_widen(const ir::Value* v, const ir::Shape& shape, bool broadcast = false) const {
    const ir::Op* w = v->producer;
    if (!w || w->kind != K::widen || g_.users(v).size() != 1 || g_.is_output(v) || w->inputs[0]->is_constant() ||
        w->get_int("shift") < 0 || w->get_int("shift") > 30)
      return false;
    const ir::Shape& in = w->inputs[0]->type.shape;
    if (!broadcast) return in == shape;
    return in.size() == shape.size() &&
           std::equal(in.begin(), in.end(), shape.begin(), [](int64_t a, int64_t b) { return a == b || a == 1; });
  }

  // Whether the requantize of fused_sums_ multiplies its operands (a mul's) rather than summing them.
  static bool fused_product(const ir::Op& rq) { return rq.inputs[0]->producer->kind == K::mul; }

  void find_fused_sums() {
    for (const ir::Op* op : g_.ops()) {
      if (op->kind == K::widen && op->outputs[0]->type.dtype == ir::DType::i32) {
        const ir::Op* rq = fusable_requantize(op->outputs[0]);
        if (!rq || !fusable_widen(op->outputs[0], op->outputs[0]->type.shape)) continue;
        fused_sums_[rq] = {op->outputs[0]};
        folded_.insert(op);
        continue;
      }
      if ((op->kind != K::add && op->kind != K::mul) || op->outputs[0]->type.dtype != ir::DType::i32) continue;
      const ir::Op* rq = fusable_requantize(op->outputs[0]);
      const bool product = op->kind == K::mul;
      if (!rq || !fusable_widen(op->inputs[0], op->outputs[0]->type.shape, product) ||
          !fusable_widen(op->inputs[1], op->outputs[0]->type.shape, product))
        continue;
      fused_sums_[rq] = {op->inputs[0], op->inputs[1]};
      folded_.insert(op);
      folded_.insert(op->inputs[0]->producer);
      folded_.insert(op->inputs[1]->producer);
    }
  }

  // A residual add whose operand is a conv's requantized result that nothing else reads (ResNet's
  // second conv of a block, MobileNetV2's projection): the conv is planned where the add is (its
  // other operand is computed by then) and takes the add into its epilogue (attach_residual),
  // unless it is a depthwise conv in the C schedule's flat plane form: then the two kernels stay
  // apart.
  struct Residual {
    const ir::Op *conv, *sum_requantize;
    size_t side;  // the conv's operand of the sum
  };
  void find_residual_convs() {
    for (const auto& [rq2, operands] : fused_sums_) {
      if (operands.size() != 2 || rq2->get_int("axis") > 1 || fused_product(*rq2)) continue;
      for (size_t side = 0; side < 2; ++side) {
        const ir::Value* q = operands[side]->producer->inputs[0];
        const ir::Op* rq1 = q->producer;
        if (!rq1 || rq1->kind != K::requantize || g_.users(q).size() != 1 || g_.is_output(q)) continue;
        const ir::Op* conv = rq1->inputs[0]->producer;
        if (!conv || conv->kind != K::conv || fusable_requantize(conv->outputs[0]) != rq1) continue;
        residual_by_sum_[rq2] = {conv, rq2, side};
        deferred_.insert({conv, rq1});
        break;
      }
    }
  }

  // The residual add after the conv of step s, fused (find_residual_convs): the add's requantize
  // of both operands on their common grid becomes the kernel's result, the other operand and the
  // add's requantize table its last arguments.
  void attach_residual(const ir::Op& conv, Step& s) {
    if (!residual_ || residual_->conv != &conv) return;
    const ir::Op& rq2 = *residual_->sum_requantize;
    const std::vector<const ir::Value*>& operands = fused_sums_.at(&rq2);
    const ir::Op &mine = *operands[residual_->side]->producer, &other = *operands[1 - residual_->side]->producer;
    s.result = rq2.outputs[0];
    s.args.push_back({other.inputs[0], -1});
    s.spec.attrs["residual"] = int64_t{1};
    set_widened_operand(s, "residual_conv", mine);
    set_widened_operand(s, "residual_skip", other);
    s.args.push_back({nullptr, requantize_table(rq2, s, "rq2")});
    // The sum's bound from its operands' ranges (the conv's requantize bounds, the skip's type):
    // the add's requantize in 32 bits where that is exact, as a conv's own.
    const ir::Op& rq1 = *mine.inputs[0]->producer;
    const int64_t bound =
        (magnitude(rq1.get_int("min"), rq1.get_int("max"), mine.get_int("zero_point")) << mine.get_int("shift")) + widened_bound(other);
    const ir::TensorData& table = plan_.constants[static_cast<size_t>(s.args.back().constant)].data;
    set_narrow_requantize(s, table, std::vector<int64_t>(static_cast<size_t>(table.shape()[0]), bound), "rq2");
    fused_.insert(&rq2);
  }

  // A widen op's (x - zero point) << shift as kernel attributes `operand`_zero_point, `operand`_shift
  // (common.cpp's on_common_grid).
  static void set_widened_operand(Step& s, const std::string& operand, const ir::Op& widen) {
    s.spec.attrs[operand + "_zero_point"] = widen.get_int("zero_point");
    s.spec.attrs[operand + "_shift"] = widen.get_int("shift");
  }

  // The largest |x - zp| over x in [lo, hi].
  static int64_t magnitude(int64_t lo, int64_t hi, int64_t zp) { return std::max(std::abs(lo - zp), std::abs(hi - zp)); }

  // The largest |(x - zp) << shift| a widen op yields over every x of its input's type.
  static int64_t widened_bound(const ir::Op& widen) {
    const ir::DType t = widen.inputs[0]->type.dtype;
    return magnitude(ir::int_min(t), ir::int_max(t), widen.get_int("zero_point")) << widen.get_int("shift");
  }

  // requantize(Σ (x_i - zp_i) << s_i) over one or two widened operands, or of the product of two:
  // the residual add's three or four kernels, a widen and a requantize, or a squeeze-excitation's
  // widens, mul and requantize, in one. Its requantize in 32-bit arithmetic where the operands'
  // ranges bound the sum or product far enough (set_narrow_requantize): 64-bit shifts are scalar
  // code on AVX2, in C and LLVM alike.
  void plan_fused_sum(const ir::Op& rq, const std::vector<const ir::Value*>& widened) {
    Step& s = add_step(rq, KernelKind::requantize, rq.outputs[0]);
    const ir::Op* sum = rq.inputs[0]->producer;
    if (widened.size() == 2 && !sum->name.empty()) s.layer = sum->name;
    const bool product = fused_product(rq);
    const char* side[] = {"lhs", "rhs"};
    int64_t bound = product ? 1 : 0;
    for (size_t i = 0; i < widened.size(); ++i) {
      const ir::Op& w = *widened[i]->producer;
      s.args.push_back({w.inputs[0], -1});
      set_widened_operand(s, side[i], w);
      bound = product ? std::min(bound * widened_bound(w), int64_t{1} << 62) : bound + widened_bound(w);
    }
    s.args.push_back({nullptr, requantize_table(rq, s)});
    s.spec.attrs["fused_operands"] = static_cast<int64_t>(widened.size());
    if (product) s.spec.attrs["fused_product"] = int64_t{1};
    const ir::TensorData& table = plan_.constants[static_cast<size_t>(s.args.back().constant)].data;
    set_narrow_requantize(s, table, std::vector<int64_t>(static_cast<size_t>(table.shape()[0]), bound));
    s.spec.attrs["lanes"] = int64_t{vector_lanes(t_, 32, innermost_extent(*rq.outputs[0]))};
    finish(s);
  }

  // The requantize a product's kernel applies: its only reader's, or, for an i32 accumulator that
  // other integer ops read (a float region's sum of a conv and another branch), the identity
  // requantize writing the accumulator itself (shift 0, no bias, clamped to the i32 range it fits).
  const ir::Op& product_requantize(const ir::Op& product) {
    if (const ir::Op* rq = fusable_requantize(product.outputs[0])) return *rq;
    ir::Value* acc = product.outputs[0];
    if (acc->type.dtype != ir::DType::i32)
      fail("{}: a {}-bit accumulator that is not requantized by its only reader is not supported by code generation",
           product.describe(), ir::bit_width(acc->type.dtype));
    return identity_requantizes_.emplace_back(ir::Op{
        K::requantize, product.name, {acc}, {acc},
        {{"shift", std::vector<int64_t>{0}}, {"axis", int64_t{-1}}, {"round", std::string("half_even")},
         {"min", int64_t{INT32_MIN}}, {"max", int64_t{INT32_MAX}}}});
  }

  // The sole reader of `v` if it is a requantize reading it as its accumulator and v is no output.
  const ir::Op* fusable_requantize(const ir::Value* v) const {
    const std::vector<ir::Op*> users = g_.users(v);
    if (users.size() != 1 || g_.is_output(v) || users[0]->kind != K::requantize || users[0]->inputs[0] != v)
      return nullptr;
    return users[0];
  }

  // The largest |Σ (x − zp)·w + bias| over the output channels of a conv or matmul, from its
  // constant weights and its input's quantized range.
  static __int128 accumulator_bound(const ir::Op& op) {
    const ir::Value& x = *op.inputs[0];
    const ir::TensorData& w = *op.inputs[1]->data;
    const int64_t zp = x_zero_point(op);
    const int64_t lo = x.type.quant ? x.type.quant->qmin() : ir::int_min(x.type.dtype);
    const int64_t hi = x.type.quant ? x.type.quant->qmax() : ir::int_max(x.type.dtype);
    const __int128 xmax = std::max(std::abs(lo - zp), std::abs(hi - zp));
    const bool conv = op.kind == K::conv;
    const int64_t channels = conv ? w.shape()[0] : w.shape().back();
    std::vector<__int128> sums(static_cast<size_t>(channels), 0);
    for (int64_t i = 0; i < w.size(); ++i)
      sums[static_cast<size_t>(conv ? i / (w.size() / channels) : i % channels)] += std::abs(w.int_at(i)) * xmax;
    if (op.inputs.size() > 2)
      for (int64_t c = 0; c < channels; ++c) sums[static_cast<size_t>(c)] += std::abs(op.inputs[2]->data->int_at(c));
    return *std::max_element(sums.begin(), sums.end());
  }

  // 32-bit accumulators, or 64-bit ones whose bound lets the kernels requantize them exactly.
  void check_accumulator(const ir::Op& op, const ir::Op& rq) {
    const ir::DType t = op.outputs[0]->type.dtype;
    if (t == ir::DType::i32) return;
    if (t != ir::DType::i64) fail("{}: {} accumulators are not supported by code generation", op.describe(), ir::dtype_name(t));
    const __int128 bound = accumulator_bound(op) + (rq.inputs.size() > 1 ? INT32_MAX : 0);
    if (bound >= (__int128{1} << kWideBoundBits))
      fail("{}: its 64-bit accumulator may reach 2^{:.1f}, beyond the 2^{} code generation requantizes exactly",
           op.describe(), std::log2(static_cast<double>(bound)), kWideBoundBits);
    for (int64_t shift : rq.get_ints("shift"))
      if (shift < 1) fail("{}: a 64-bit accumulator shifted left (shift {}) is not supported by code generation", rq.describe(), shift);
  }

  // The requantize parameters as one i32 table [channels][3] (shift, bias, bias fraction class),
  // [channels][4] with a divisor (+ the divisor, attribute rq_divisor); the kernel's attributes get
  // the rounding rule, bounds, zero point and per-channel axis (rq_round, ...; a kernel's second
  // requantize: `prefix`_round, ...).
  int requantize_table(const ir::Op& rq, Step& s, const std::string& prefix = "rq") {
    if (rq.has("multiplier"))
      fail("{}: Q31 multipliers (--allow-non-pot) are not supported by code generation", rq.describe());
    const int64_t divisor = rq.has("divisor") ? rq.get_int("divisor") : 1;
    if (divisor > 1 && rq.inputs[0]->type.dtype != ir::DType::i32)
      fail("{}: dividing a 64-bit accumulator by {} is not supported by code generation", rq.describe(), divisor);
    const int64_t axis = rq.get_int("axis");
    const int64_t channels = axis >= 0 ? rq.outputs[0]->type.shape[axis] : 1;
    const ir::TensorData* bias = rq.inputs.size() > 1 ? &constant_operand(rq, 1, "bias") : nullptr;
    // Per channel as stored: stored channel c holds channel order[c].
    const std::vector<int32_t>* order = axis == 1 ? order_of(rq.outputs[0]) : nullptr;
    auto entry = [&](const char* attr, int64_t c) {
      if (!rq.has(attr)) return int64_t{0};
      const auto& v = rq.get_ints(attr);
      return v.size() == 1 ? v[0] : v[static_cast<size_t>(c)];
    };
    std::vector<int32_t> table;
    bool right_shifts = true;
    for (int64_t stored = 0; stored < channels; ++stored) {
      const int64_t c = order ? (*order)[static_cast<size_t>(stored)] : stored;
      int64_t shift = entry("shift", c);
      right_shifts = right_shifts && shift >= 1;
      if (shift < -kMaxLeftShift)
        fail("{}: shift {} (a left shift by {}) is beyond the {} code generation supports", rq.describe(), shift,
             -shift, kMaxLeftShift);
      shift = std::min(shift, rq.inputs[0]->type.dtype == ir::DType::i64 ? kMaxWideRightShift : kMaxRightShift);
      const int64_t b = bias ? bias->int_at(bias->size() == 1 ? 0 : c) : 0;
      if (b < INT32_MIN || b > INT32_MAX) fail("{}: bias {} does not fit 32 bits (the table's entries are int32)", rq.describe(), b);
      // |acc + bias| < 2^32, so every divisor D · 2^shift beyond 2^33 + 2 rounds alike (to the
      // nearest of 0 and -1's neighbours): from 2^34 on the kernel divides by 2^34, a plain shift,
      // which keeps D · 2^shift within 64 bits.
      int64_t d = divisor;
      if (d > 1 && (static_cast<__int128>(d) << std::max<int64_t>(shift, 0)) >= (__int128{1} << 34)) {
        shift = 34;
        d = 1;
      }
      table.insert(table.end(), {static_cast<int32_t>(shift), static_cast<int32_t>(b),
                                 static_cast<int32_t>(entry("bias_frac", c))});
      if (divisor > 1) table.push_back(static_cast<int32_t>(d));
    }
    const auto& q = rq.outputs[0]->type.quant;  // none for an identity requantize (product_requantize)
    s.spec.attrs[prefix + "_round"] = rq.get_string("round");
    s.spec.attrs[prefix + "_min"] = rq.get_int("min");
    s.spec.attrs[prefix + "_max"] = rq.get_int("max");
    s.spec.attrs[prefix + "_zero_point"] = q ? q->zero_points[0] : 0;
    s.spec.attrs[prefix + "_axis"] = axis;
    // Every channel shifts right: the kernel need not handle left shifts (common.cpp).
    if (right_shifts) s.spec.attrs[prefix + "_right_shift"] = int64_t{1};
    if (divisor > 1) {
      s.spec.attrs[prefix + "_divisor"] = int64_t{1};
      return add_constant(fmt::format("requantization table (shift, bias, bias fraction, divisor) of {}", rq.describe()),
                          ir::TensorData::from<int32_t>({channels, 4}, table));
    }
    return add_constant(fmt::format("requantization table (shift, bias, bias fraction) of {}", rq.describe()),
                        ir::TensorData::from<int32_t>({channels, 3}, table));
  }

  // Requantize in 32-bit arithmetic (attribute rq_narrow; common.cpp), half as many vector lanes
  // of work as 64-bit, where that is exact: every channel shifts right by 1..30 and the sum
  // |accumulator| + |bias| stays below 2^31, from the accumulator's bound per channel.
  static void set_narrow_requantize(Step& s, const ir::TensorData& table, const std::vector<int64_t>& acc_bound,
                                    const std::string& prefix = "rq") {
    const int64_t channels = table.shape()[0], columns = table.shape()[1];
    if (columns != 3) return;  // a divisor: the 64-bit division
    bool headroom = true;
    for (size_t c = 0; c < acc_bound.size(); ++c) {
      const int32_t* row = table.as<int32_t>().data() + 3 * (channels == 1 ? 0 : c);
      const int64_t bound = acc_bound[c] + std::abs(int64_t{row[1]});
      if (row[0] < 1 || row[0] > 30 || bound >= (int64_t{1} << 31)) return;
      headroom = headroom && bound + (int64_t{1} << (row[0] - 1)) < (int64_t{1} << 31);
    }
    s.spec.attrs[prefix + "_narrow"] = int64_t{1};
    // Room to add half a step too: the rounding is then an add and a shift (common.cpp).
    if (headroom) s.spec.attrs[prefix + "_headroom"] = int64_t{1};
  }

  // Per output channel, a bound of |bias + Σ (x − x_zero_point) · w| over every input x of the
  // input's type: what the requantize adds its own bias to.
  std::vector<int64_t> accumulator_bounds(const ir::Op& conv, const ir::TensorData& w) {
    const ir::DType xt = conv.inputs[0]->type.dtype;
    const int64_t bits = ir::bit_width(xt), zp = x_zero_point(conv);
    const int64_t lo = ir::is_signed(xt) ? -(int64_t{1} << (bits - 1)) : 0, hi = lo + (int64_t{1} << bits) - 1;
    const int64_t x_magnitude = magnitude(lo, hi, zp);
    const ir::TensorData* bias = conv_bias(conv);
    const int64_t cout = w.shape()[0], per_channel = ir::num_elements(w.shape()) / cout;
    std::vector<int64_t> bounds(static_cast<size_t>(cout));
    for (int64_t co = 0; co < cout; ++co) {
      int64_t magnitude = 0;
      for (int64_t i = 0; i < per_channel; ++i) magnitude += std::abs(w.int_at(co * per_channel + i));
      bounds[static_cast<size_t>(co)] = (bias ? std::abs(bias->int_at(co)) : 0) + x_magnitude * magnitude;
    }
    return bounds;
  }

  void set_window(Step& s, const sim::Window& w) {
    std::vector<int64_t> in, out, kernel, stride, pad, dilation;
    for (const sim::WindowAxis& a : w.axes) {
      in.push_back(a.in);
      out.push_back(a.out);
      kernel.push_back(a.kernel);
      stride.push_back(a.stride);
      pad.push_back(a.pad_begin);
      dilation.push_back(a.dilation);
    }
    s.spec.attrs["win_in"] = in;
    s.spec.attrs["win_out"] = out;
    s.spec.attrs["win_kernel"] = kernel;
    s.spec.attrs["win_stride"] = stride;
    s.spec.attrs["win_pad"] = pad;
    s.spec.attrs["win_dilation"] = dilation;
  }

  static int64_t x_zero_point(const ir::Op& op) { return op.has("x_zero_point") ? op.get_int("x_zero_point") : 0; }

  // Input columns a tile's padded copy holds when `computed` output columns are computed.
  static int64_t columns_read(const sim::WindowAxis& cols, int64_t computed) {
    return (computed - 1) * cols.stride + (cols.kernel - 1) * cols.dilation + 1;
  }
  // Input rows one output row reads (ConvGeometry::kernel_rows).
  static int64_t kernel_extent(const sim::WindowAxis& a) { return (a.kernel - 1) * a.dilation + 1; }

  // conv + requantize on a target with an int8 dot product (AVX-512 VNNI: 4 u8 x s8 products per
  // int32 lane), or with a 16-bit pair product that Halide builds the dot product from (AVX2's
  // pmaddwd; target.h's int16_pair_product): a dense 2-D conv of 8-bit activations and weights into int32. The kernel reads
  // the input as unsigned bytes x + o (o = 128 for int8 input, else 0) and the weights arranged
  // [C_out/16][tap][C_in/4][16][4] (both channel counts padded with zero weights), and starts each
  // sum at  bias - (zero point + o) * Σ w  instead of  bias, so that
  //   bias' + Σ (x + o) w  =  bias + Σ (x - zero point) w   exactly, in integers.
  // Refused (false: the generic conv) where a partial sum of the unsigned form could leave int32.
  bool plan_dot_conv(const ir::Op& conv, const ir::Op& rq, const ir::TensorData& w, const sim::Window& win) {
    const ir::DType xt = conv.inputs[0]->type.dtype;
    if ((t_.int8_dot_product != 4 && t_.int16_pair_product != 2) || conv.get_int("group") != 1 || conv.inputs[0]->type.shape.size() != 4 ||
        (xt != ir::DType::u8 && xt != ir::DType::i8) || w.dtype() != ir::DType::i8 || conv.outputs[0]->type.dtype != ir::DType::i32)
      return false;
    const int lanes = t_.vector_lanes(32);
    const ir::Shape& ws = w.shape();
    const int64_t cout = ws[0], cin = ws[1], taps = win.kernel_volume();
    const int64_t cin4 = round_up(cin, 4), cout_v = round_up(cout, lanes);
    const int64_t offset = (xt == ir::DType::i8 ? 128 : 0) + x_zero_point(conv);
    const ir::TensorData* bias = conv_bias(conv);
    // A 1x1 conv of stride 1 without padding is a matrix product over the flattened pixels: its
    // results are vectors of pixels, stored whole into the channel planes, where the channel-vector
    // form would store each output byte on its own.
    const int64_t pixels = win.axes[1].out * win.axes[2].out;
    std::optional<PointwiseDotTile> pointwise;
    if (taps == 1 && layout_of(conv.inputs[0]) == Layout::planar && layout_of(rq.outputs[0]) == Layout::planar &&
        std::all_of(win.axes.begin(), win.axes.end(), [](const sim::WindowAxis& a) {
          return a.stride == 1 && a.pad_begin == 0 && a.in == a.out;
        }))
      pointwise = pointwise_dot_tile(t_, pixels, cin4, t_.int8_dot_product == 4 ? 1 : 2);
    // For the C backend alone, the other convs' weights too are in the C loops' order, a row per
    // output channel and tap ([C_out][tap][C_in], 16-bit in the pair form), read in place: the C
    // schedule rearranges the LLVM order per tile and output channel block, which took a fifth of
    // ResNet-18's last 3x3 convs (one 7x7 tile, 2.4 M weights each) on a Zen 3.
    const bool weight_rows = !pointwise && weights_for_ == WeightsFor::c;
    // Without an int8 dot product, the LLVM kernels sum byte pairs with pmaddubsw where the target
    // has it, their weights clamped below its saturation and the rest added back exactly
    // (saturating_pairs.h), else 16-bit pairs with pmaddwd: whichever costs least (pair_order.h).
    // ResNet-18's 3x3 convs all take byte pairs (those of 256 and 512 channels 1.2-1.4x faster each
    // than 16-bit pairs, per-layer minima on a Zen 3).
    std::optional<SaturatingPairWeights> split;
    if (!pointwise && !weight_rows && sums_byte_pairs(t_, cin))
      split = choose_byte_pairs(w, lanes, win.axes[1].stride * win.axes[2].stride).split;
    const bool byte_pairs = split.has_value();
    // Input channels per step of the host kernel's reduction: vpdpbusd's 4 (or two pmaddubsw
    // pairs), or vpmaddwd's 2 (the weights of a step adjacent, for each output channel of a vector).
    const int64_t width = t_.int8_dot_product == 4 || byte_pairs ? 4 : 2;
    // A pointwise kernel broadcasts each weight pair to a vector: 16-bit in memory for vpmaddwd, so
    // that the broadcast is a load (widening a block's weights per tile of pixels cost more than
    // the product where a tile is a few pixels of 960 channels).
    const bool wide_weights = pointwise && width == 2;
    // The C schedule's patch form reads a pointwise conv's weight rows in place, as long as its
    // loop (zeros past C_in): copying them per tile of pixels cost more than the products
    // (MobileNetV2's 1x1 convs of 576 channels, 16-pixel tiles).
    const PointwiseCLoop c_loop = pointwise ? pointwise_c_loop(t_, pixels, cin, wide_weights ? 2 : 1) : PointwiseCLoop{};
    const int64_t weight_row = std::max(cin4, c_loop.channels);
    std::vector<int64_t> slot_of(static_cast<size_t>(cin));  // with byte pairs: the inverse of split->order
    if (split)
      for (size_t slot = 0; slot < split->order.size(); ++slot) slot_of[static_cast<size_t>(split->order[slot])] = static_cast<int64_t>(slot);
    ir::TensorData arranged(wide_weights || (weight_rows && width == 2) ? ir::DType::i16 : ir::DType::i8,
                            pointwise     ? ir::Shape{cout_v, weight_row / 4, 4}
                            : weight_rows ? ir::Shape{cout_v, taps, cin4}
                                          : ir::Shape{cout_v / lanes, taps, cin4 / width, lanes, width});
    ir::TensorData start(ir::DType::i32, {cout_v});
    std::vector<int64_t> acc_bound(static_cast<size_t>(cout));  // of |bias' + Σ (x + o) w|
    for (int64_t co = 0; co < cout; ++co) {
      int64_t sum = 0, magnitude = 0;
      for (int64_t ci = 0; ci < cin; ++ci)
        for (int64_t k = 0; k < taps; ++k) {
          const auto from = static_cast<size_t>((co * cin + ci) * taps + k);
          const auto v = w.as<int8_t>()[from];
          // The start value is from the weights as trained (the clamped-off parts are summed too).
          sum += v;
          magnitude += std::abs(v);
          // With byte pairs, channel ci's weights are at its slot (the kernel's input copy puts the
          // input channels in that order).
          const int64_t slot = split ? slot_of[static_cast<size_t>(ci)] : ci;
          const auto at = static_cast<size_t>(
              pointwise     ? co * weight_row + ci
              : weight_rows ? (co * taps + k) * cin4 + ci
                            : (((co / lanes) * taps + k) * (cin4 / width) + slot / width) * lanes * width + (co % lanes) * width + slot % width);
          if (arranged.dtype() == ir::DType::i16) arranged.as<int16_t>()[at] = v;
          else arranged.as<int8_t>()[at] = split ? split->weights[from] : v;
        }
      const int64_t b = (bias ? bias->int_at(co) : 0) - offset * sum;
      acc_bound[static_cast<size_t>(co)] = std::abs(b) + 255 * magnitude;
      if (acc_bound[static_cast<size_t>(co)] >= (int64_t{1} << 31)) return false;
      start.as<int32_t>()[static_cast<size_t>(co)] = static_cast<int32_t>(b);
    }
    // The host kernel's tile: rows within L1D whose input copy (channel-innermost; 16-bit in the
    // pair form, so that each step broadcasts a 32-bit pair of channels without widening it) fits
    // Halide's stack limit; where not even one row's does, the row in chunks of whole register
    // blocks, as few as fit (none fits: the generic conv, which can copy less). The C schedule's
    // copy (16-bit in the pair form too) takes as many rows as L2 holds (see dot_conv_c_tile_rows).
    const sim::WindowAxis& cols = win.axes[2];
    const int64_t copy_bytes = width == 2 ? 2 : 1, rows_read = kernel_extent(win.axes[1]);
    auto copy_fits = [&](int64_t columns) { return rows_read * columns_read(cols, columns) * cin4 * copy_bytes <= kMaxStackBuffer; };
    int64_t max_columns = 0;
    while (max_columns < cols.out && copy_fits(max_columns + 1)) ++max_columns;
    if (!pointwise && max_columns == 0) return false;
    const DotConvTile tile = dot_conv_tile(t_, cols.out, cout_v / lanes, std::max<int64_t>(max_columns, 1));
    ConvGeometry geometry{win.axes[1].out, tile.columns, cols.in, cin4, rows_read, taps, win.axes[1].stride, lanes};
    geometry.lanes = lanes;
    geometry.padded_cols = columns_read(cols, cols.out);
    geometry.channels_read = cin4 * copy_bytes;  // in bytes, as the tile budgets count
    int64_t tile_rows = pointwise ? 0 : conv_tile_rows(t_, geometry), chunk_columns = 0;
    if (!pointwise && tile_rows == 0) {
      const int64_t blocks = ceil_div(cols.out, int64_t{tile.columns});
      for (int64_t chunks = 2; chunk_columns == 0; ++chunks)
        if (const int64_t columns = ceil_div(blocks, chunks) * tile.columns; copy_fits(columns)) chunk_columns = columns;
      tile_rows = 1;
    }
    fused_.insert(&rq);
    Step& s = add_step(conv, KernelKind::conv, rq.outputs[0]);
    s.layer = conv.name.empty() ? s.layer : conv.name;
    s.args.push_back({conv.inputs[0], -1});
    const std::string order =
        pointwise     ? fmt::format("[C_out][C_in] order, C_in padded to {} ({} dot product over pixels)", weight_row,
                                    wide_weights ? "16-bit pair" : "int8")
        : weight_rows ? fmt::format("[C_out][tap][C_in] order, C_in padded to {} ({} dot product, C loops)", cin4,
                                    width == 2 ? "16-bit pair" : "int8")
                      : fmt::format("[C_out/{}][tap][C_in/{}][{}][{}] order ({})", lanes, width, lanes, width,
                                    byte_pairs ? "byte pairs, clamped below pmaddubsw's saturation"
                                    : width == 2 ? "16-bit pair dot product"
                                                 : "int8 dot product");
    s.args.push_back({nullptr, add_constant(fmt::format("weights of {} in {}", conv.describe(), order), std::move(arranged))});
    s.args.push_back({nullptr, add_constant(fmt::format("bias of {} minus {} times each output channel's weight sum",
                                                        conv.describe(), offset),
                                            std::move(start))});
    s.args.push_back({nullptr, requantize_table(rq, s)});
    if (rq.get_int("axis") > 1) fail("{}: requantization along axis {} of a conv result", rq.describe(), rq.get_int("axis"));
    set_narrow_requantize(s, plan_.constants[static_cast<size_t>(s.args.back().constant)].data, acc_bound);
    set_window(s, win);
    s.spec.attrs["dot"] = int64_t{1};
    if (split) {
      s.spec.attrs["dot_saturating_pairs"] = int64_t{1};
      s.spec.attrs["dot_corrections"] = split->corrections;
      if (!std::is_sorted(split->order.begin(), split->order.end())) {
        s.spec.attrs["dot_channel_order"] = int64_t{1};
        s.args.push_back({nullptr, add_constant(fmt::format("input channel of each slot of {}'s input copy (slots 2j, 2j + 1 "
                                                            "are summed as a pair by pmaddubsw)",
                                                            conv.describe()),
                                                ir::TensorData::from<int32_t>({cin}, split->order))});
      }
      if (split->corrections > 0) {
        s.args.push_back({nullptr, add_constant(fmt::format("input positions (slot, kx, ky) of the weights of {} clamped "
                                                            "below pmaddubsw's saturation, per vector of {} output channels",
                                                            conv.describe(), lanes),
                                                split->positions)});
        s.args.push_back({nullptr, add_constant(fmt::format("clamped-off parts of the weights of {} at those positions", conv.describe()),
                                                split->residuals)});
        s.args.push_back({nullptr, add_constant(fmt::format("length of each list of positions of {}", conv.describe()), split->lengths)});
      }
    }
    if (weight_rows) s.spec.attrs["dot_weight_rows"] = int64_t{1};
    s.spec.attrs["dot_offset"] = int64_t{xt == ir::DType::i8 ? 128 : 0};
    s.spec.attrs["has_bias"] = int64_t{1};
    s.spec.attrs["group"] = int64_t{1};
    s.spec.attrs["acc_bits"] = int64_t{32};
    s.spec.attrs["x_zero_point"] = x_zero_point(conv);
    s.spec.attrs["channel_block"] = int64_t{lanes};
    s.macs = ir::num_elements(rq.outputs[0]->type.shape) * cin * taps;
    if (pointwise) {
      s.spec.attrs["dot_pixel_vectors"] = int64_t{pointwise->pixel_vectors};
      s.spec.attrs["dot_channel_rows"] = int64_t{pointwise->channel_rows};
      s.spec.attrs["dot_pixel_tile"] = pointwise->pixel_tile;
      s.spec.attrs["dot_width"] = width;
      s.spec.attrs["dot_c_loop"] = c_loop.channels > 0 ? "patch" : "column";
      s.spec.attrs["dot_c_channels"] = c_loop.channels;
      s.spec.attrs["dot_c_pixel_tile"] = c_loop.pixel_tile;
      attach_residual(conv, s);
      finish(s);
      // The kernel sees each channel plane of its tensors (input, a fused residual's skip, result)
      // as one row of pixels (the same memory).
      for (size_t i = 0; i < s.spec.args.size(); ++i)
        if (i == s.args.size() || s.args[i].value) s.spec.args[i].shape = {s.spec.args[i].shape[0], s.spec.args[i].shape[1], 1, pixels};
      return true;
    }
    s.spec.attrs["dot_channel_vectors"] = int64_t{tile.channel_vectors};
    s.spec.attrs["dot_columns"] = int64_t{tile.columns};
    s.spec.attrs["dot_tile_rows"] = tile_rows;
    s.spec.attrs["dot_chunk_columns"] = chunk_columns;
    // The C schedule's dot-product loop (conv.cpp). Bytes: a whole patch, one sum per output, if
    // that is a dot product the C loops take (c_dot_granule; ResNet-18's 3x3 convs as patches
    // rather than as a sum per kernel row on a Sapphire Rapids: bench_c 18.3 -> 16.6 ms, every
    // layer faster; MobileNetV2's 3x3 stem as patches of 36 bytes rather than column loops: 1.27 ->
    // 1.08 ms). 16-bit pairs: a kernel row's taps (one tap with column dilation) if that fills a
    // vector, else a whole patch if that does (as measured on a Zen 3). Else columns are
    // vectorized instead.
    const int64_t vector_bytes = t_.vector_bits / 8, shortest_patch = width == 4 ? c_dot_granule(t_, 1) : vector_bytes;
    const bool kernel_rows = width == 2 && (cols.dilation == 1 ? cols.kernel : 1) * cin4 >= vector_bytes;
    s.spec.attrs["dot_c_loop"] = kernel_rows ? "row" : taps * cin4 >= shortest_patch ? "patch" : "column";
    s.spec.attrs["tile_rows"] = dot_conv_c_tile_rows(t_, geometry);
    attach_residual(conv, s);
    finish(s);
    return true;
  }

  // conv + requantize: weights arranged [C_out / B][C_in per group][kd][kh][kw][B], B the channel
  // block, so the B weights one input tap meets are adjacent.
  void plan_conv(const ir::Op& conv) {
    const ir::Op* rq = &product_requantize(conv);
    fused_.insert(rq);
    check_accumulator(conv, *rq);
    const ir::TensorData& w = conv_weights(conv);
    const ir::Shape& ws = w.shape();
    const sim::Window win = sim::make_window(conv, conv.inputs[0]->type.shape, ir::Shape(ws.begin() + 2, ws.end()));
    if (plan_dot_conv(conv, *rq, w, win)) return;
    const int64_t cout = ws[0], cin = ws[1], taps = win.kernel_volume();
    const bool channels_last = layout_of(conv.inputs[0]) == Layout::channels_last && layout_of(rq->outputs[0]) == Layout::channels_last;
    const int block = conv_channel_block(t_, cout, channels_last);
    ir::TensorData arranged(w.dtype(), {cout / block, cin, win.axes[0].kernel, win.axes[1].kernel, win.axes[2].kernel, block});
    const size_t esize = ir::byte_size(w.dtype());
    for (int64_t co = 0; co < cout; ++co)
      for (int64_t ci = 0; ci < cin; ++ci)
        for (int64_t k = 0; k < taps; ++k) {
          const int64_t from = (co * cin + ci) * taps + k;
          const int64_t to = (((co / block) * cin + ci) * taps + k) * block + co % block;
          std::memcpy(arranged.mutable_bytes().data() + to * esize, w.bytes().data() + from * esize, esize);
        }
    Step& s = add_step(conv, KernelKind::conv, rq->outputs[0]);
    s.layer = conv.name.empty() ? s.layer : conv.name;
    s.args.push_back({conv.inputs[0], -1});
    if (conv.inputs[0]->is_constant()) fail("{}: a conv of a constant input is not supported", conv.describe());
    s.args.push_back({nullptr, add_constant(fmt::format("weights of {} in [C_out/{}][C_in][kd][kh][kw][{}] order",
                                                        conv.describe(), block, block),
                                            std::move(arranged))});
    s.spec.attrs["has_bias"] = int64_t{conv.inputs.size() > 2};
    if (conv.inputs.size() > 2) s.args.push_back({nullptr, add_constant(fmt::format("bias of {}", conv.describe()),
                                                                       *conv_bias(conv))});
    s.args.push_back({nullptr, requantize_table(*rq, s)});
    if (rq->get_int("axis") > 1) fail("{}: requantization along axis {} of a conv result", rq->describe(), rq->get_int("axis"));
    if (conv.outputs[0]->type.dtype == ir::DType::i32)
      set_narrow_requantize(s, plan_.constants[static_cast<size_t>(s.args.back().constant)].data, accumulator_bounds(conv, w));
    set_window(s, win);
    s.spec.attrs["group"] = conv.get_int("group");
    s.spec.attrs["acc_bits"] = int64_t{ir::bit_width(conv.outputs[0]->type.dtype)};
    s.spec.attrs["x_zero_point"] = x_zero_point(conv);
    s.spec.attrs["channel_block"] = int64_t{block};
    const int lanes = vector_lanes(t_, 32, win.axes[2].out);
    const sim::WindowAxis& cols = win.axes[2];
    const int64_t out_per_group = cout / conv.get_int("group");
    ConvGeometry geometry{win.axes[1].out, cols.out, cols.in, cin, kernel_extent(win.axes[1]), taps, win.axes[1].stride, block};
    // What a tile's padded input copy holds: the columns the outputs read (a last vector that does
    // not fit shifts inwards), rounded up to whole vectors as the host schedule copies them, the
    // input channels of every group the channel block touches.
    geometry.padded_cols = round_up(columns_read(cols, cols.out), lanes);
    // In bytes, as the stack limit counts them: 16- and 32-bit inputs (an average pool's sums)
    // copy 2 or 4 per channel (counted as elements, torchvision's Inception v3 got 43 KiB tiles,
    // which its host objects took from halide_malloc).
    const auto input_bytes_per_channel = static_cast<int64_t>(ir::byte_size(conv.inputs[0]->type.dtype));
    geometry.channels_read = cin * std::max<int64_t>(1, block / out_per_group) * input_bytes_per_channel;
    geometry.acc_bytes = ir::bit_width(conv.outputs[0]->type.dtype) / 8;
    geometry.lanes = lanes;
    const int64_t tile_rows = conv_tile_rows(t_, geometry);
    s.spec.attrs["tile_rows"] = std::max<int64_t>(tile_rows, 1);
    // Where even one row's copy is above Halide's stack limit, the host schedule copies the window
    // of one output vector instead ("vector"), else reads the input through the bounds test.
    if (tile_rows == 0) {
      const int64_t vector_copy = taps / cols.kernel * round_up(columns_read(cols, lanes), lanes) * geometry.channels_read;
      s.spec.attrs["padded_copy"] = vector_copy <= kMaxStackBuffer ? "vector" : "none";
    }
    s.spec.attrs["lanes"] = int64_t{lanes};
    // The host schedule of a channels-last conv (conv.cpp takes that form where this is set):
    // columns per register block, each a channel block of 32-bit sums (two vectors), with room
    // left for a tap's weights and input.
    if (channels_last) s.spec.attrs["block_columns"] = int64_t{std::max(1, t_.vector_registers / 4)};
    // The C schedule of a 2-D depthwise conv (conv.cpp's depthwise_plane_pipeline): a channel's
    // plane at a time, as flat loops over rows `width` apart. Measured on MobileNetV2 with gcc 12:
    // 2-3x the tiled form's speed on planes of 7 to 28 columns.
    const sim::WindowAxis& rows = win.axes[1];
    const int64_t width = std::max(cols.in + cols.pad_begin, columns_read(cols, cols.out));
    const int64_t plane_rows = std::max(rows.in + rows.pad_begin, columns_read(rows, rows.out));
    const int64_t input_bytes = plane_rows * width * input_bytes_per_channel, sum_bytes = rows.out * width * geometry.acc_bytes;
    if (conv.inputs[0]->type.shape.size() == 4 && cin == 1 && rows.stride == cols.stride &&
        c_plane_fits(t_, std::max(input_bytes, sum_bytes), input_bytes + sum_bytes + rows.out * width))
      s.spec.attrs["c_plane_width"] = width;
    s.macs = ir::num_elements(rq->outputs[0]->type.shape) * cin * taps;
    if (!s.spec.attrs.count("c_plane_width")) attach_residual(conv, s);  // the plane form's result is its own
    finish(s);
  }

  // matmul (activations times constant [K, N] weights) + requantize.
  void plan_matmul(const ir::Op& mm) {
    const ir::Op* rq = &product_requantize(mm);
    fused_.insert(rq);
    check_accumulator(mm, *rq);
    const ir::Value& a = *mm.inputs[0];
    const ir::TensorData* b_in = &constant_operand(mm, 1, "second operand");
    // The rows in the order the activations' channels are stored in (pair_order.h).
    if (const auto* order = order_of(&a)) b_in = &permuted_.emplace_back(permute_channels(*b_in, *order, 0));
    const ir::TensorData& b = *b_in;
    if (a.is_constant() || a.type.shape.size() < 2 || b.shape().size() != 2)
      fail("{}: code generation supports activations (rank >= 2) times a constant 2-D matrix", mm.describe());
    const int64_t rank = static_cast<int64_t>(rq->outputs[0]->type.shape.size());
    if (rq->get_int("axis") >= 0 && rq->get_int("axis") != rank - 1)
      fail("{}: requantization along axis {} of a matmul result", rq->describe(), rq->get_int("axis"));
    Step& s = add_step(mm, KernelKind::matmul, rq->outputs[0]);
    s.args.push_back({&a, -1});
    s.args.push_back({nullptr, add_constant(fmt::format("weights of {} [K][N]", mm.describe()), b)});
    s.args.push_back({nullptr, requantize_table(*rq, s)});
    s.spec.attrs["x_zero_point"] = x_zero_point(mm);
    s.spec.attrs["acc_bits"] = int64_t{ir::bit_width(mm.outputs[0]->type.dtype)};
    s.spec.attrs["lanes"] = int64_t{vector_lanes(t_, 32, b.shape()[1])};
    s.macs = ir::num_elements(rq->outputs[0]->type.shape) * b.shape()[0];
    finish(s);
  }

  void plan_requantize(const ir::Op& rq) {
    if (rq.inputs[0]->type.dtype != ir::DType::i32)
      fail("{}: requantizing a {} tensor on its own is not supported by code generation", rq.describe(),
           ir::dtype_name(rq.inputs[0]->type.dtype));
    if (rq.inputs[0]->is_constant()) fail("{}: requantizing a constant is not supported", rq.describe());
    Step& s = add_step(rq, KernelKind::requantize, rq.outputs[0]);
    s.args.push_back({rq.inputs[0], -1});
    s.args.push_back({nullptr, requantize_table(rq, s)});
    s.spec.attrs["lanes"] = int64_t{vector_lanes(t_, 32, innermost_extent(*rq.outputs[0]))};
    finish(s);
  }

  void plan_pool(const ir::Op& op) {
    const sim::Window win = sim::make_window(op, op.inputs[0]->type.shape, op.get_ints("kernel_shape"));
    const bool average = op.kind == K::avgpool;
    Step& s = add_step(op, average ? KernelKind::avgpool : KernelKind::maxpool, op.outputs[0]);
    s.args.push_back(operand(op, 0));
    set_window(s, win);
    // Per-axis tap counts: a window is a box, so its count is their product.
    const bool include_pad = average && op.get_int("count_include_pad") != 0;
    for (size_t a = 0; a < 3; ++a) {
      std::vector<int64_t> counts;
      for (int64_t o = 0; o < win.axes[a].out; ++o) {
        const sim::TapRange r = win.taps[a][o];
        const int64_t c = include_pad ? win.axes[a].inside_padded(o) : r.last - r.first;
        if (r.last <= r.first) fail("{}: a pooling window lies entirely in the padding", op.describe());
        counts.push_back(c);
      }
      s.spec.attrs["count" + std::to_string(a)] = counts;
    }
    if (average && !op.outputs[0]->type.quant) {  // the window sums, for a product's requantize to divide
      s.spec.attrs["sum"] = int64_t{1};
      const auto& xq = op.inputs[0]->type.quant;
      s.spec.attrs["x_zero_point"] = xq ? xq->zero_points[0] : 0;
    } else if (average) {
      const int64_t shift = op.get_int("shift");
      if (std::abs(shift) > kMaxPoolShift)
        fail("{}: shift {} is beyond the ±{} code generation supports", op.describe(), shift, kMaxPoolShift);
      s.spec.attrs["shift"] = shift;
      s.spec.attrs["round"] = op.get_string("round");
      const ir::QuantParams& qy = *op.outputs[0]->type.quant;
      s.spec.attrs["x_zero_point"] = op.inputs[0]->type.quant->zero_points[0];
      s.spec.attrs["y_zero_point"] = qy.zero_points[0];
      s.spec.attrs["qmin"] = qy.qmin();
      s.spec.attrs["qmax"] = qy.qmax();
    }
    // A pool of a channels-last input into a channels-last result, or into one pixel per channel
    // (a global pool's, the same memory in either layout), vectorizes channels (pool.cpp's
    // channels_innermost), any other output columns.
    const bool channels_last = layout_of(op.inputs[0]) == Layout::channels_last &&
                               (layout_of(op.outputs[0]) == Layout::channels_last || win.axes[1].out * win.axes[2].out == 1);
    const int64_t vectorized = channels_last ? op.inputs[0]->type.shape[1] : win.axes[2].out;
    s.spec.attrs["lanes"] = int64_t{vector_lanes(t_, ir::bit_width(op.outputs[0]->type.dtype), vectorized)};
    if (channels_last) s.spec.attrs["channels_innermost"] = int64_t{1};
    s.macs = ir::num_elements(op.outputs[0]->type.shape) * win.kernel_volume();
    finish(s);
  }

  void plan_simple(const ir::Op& op, KernelKind kind) {
    Step& s = add_step(op, kind, op.outputs[0]);
    for (size_t i = 0; i < op.inputs.size(); ++i) s.args.push_back(operand(op, i));
    const ir::DType t = op.outputs[0]->type.dtype;
    s.spec.attrs["lanes"] = int64_t{vector_lanes(t_, ir::bit_width(t), innermost_extent(*op.outputs[0]))};
    switch (kind) {
      case KernelKind::widen:
        s.spec.attrs["zero_point"] = op.get_int("zero_point");
        s.spec.attrs["shift"] = op.get_int("shift");
        if (op.get_int("shift") < 0 || op.get_int("shift") > 62) fail("{}: shift {} out of range", op.describe(), op.get_int("shift"));
        break;
      case KernelKind::clip: {
        auto bound = [&](const char* name, int64_t absent, auto round) {
          if (!op.has(name)) return absent;
          const double v = round(op.get_float(name));
          return static_cast<int64_t>(std::clamp(v, static_cast<double>(ir::int_min(t)), static_cast<double>(ir::int_max(t))));
        };
        s.spec.attrs["lo"] = bound("min", ir::int_min(t), [](double v) { return std::ceil(v); });
        s.spec.attrs["hi"] = bound("max", ir::int_max(t), [](double v) { return std::floor(v); });
        break;
      }
      case KernelKind::concat: s.spec.attrs["axis"] = op.get_int("axis"); break;
      case KernelKind::lut: s.spec.attrs["first"] = ir::int_min(op.inputs[0]->type.dtype); break;
      case KernelKind::transpose: s.spec.attrs["perm"] = op.get_ints("perm"); break;
      case KernelKind::gather: {
        const auto sources = sim::axis_sources(op, op.inputs[0]->type.shape);
        for (size_t d = 0; d < sources.size(); ++d) s.spec.attrs["src" + std::to_string(d)] = sources[d];
        int64_t fill = 0;
        if (op.kind == K::pad) {
          const double v = op.get_float("value");
          if (v != std::floor(v) || v < ir::int_min(t) || v > ir::int_max(t))
            fail("{}: pad value {} is not an element of {}", op.describe(), v, ir::dtype_name(t));
          fill = static_cast<int64_t>(v);
        }
        s.spec.attrs["fill"] = fill;
        break;
      }
      default: break;
    }
    finish(s);
  }

  void plan_op(const ir::Op& op) {
    switch (op.kind) {
      case K::conv: return plan_conv(op);
      case K::matmul: return plan_matmul(op);
      case K::requantize:
        if (fused_.count(&op)) return;
        if (auto r = residual_by_sum_.find(&op); r != residual_by_sum_.end()) {
          residual_ = &r->second;
          plan_conv(*residual_->conv);
          residual_ = nullptr;
          if (fused_.count(&op)) return;  // the conv took the add
        }
        if (auto it = fused_sums_.find(&op); it != fused_sums_.end()) return plan_fused_sum(op, it->second);
        return plan_requantize(op);
      case K::maxpool:
      case K::avgpool: return plan_pool(op);
      case K::add: return plan_simple(op, KernelKind::add);
      case K::sub: return plan_simple(op, KernelKind::sub);
      case K::mul: return plan_simple(op, KernelKind::mul);
      case K::widen: return plan_simple(op, KernelKind::widen);
      case K::clip: return plan_simple(op, KernelKind::clip);
      case K::concat: return plan_simple(op, KernelKind::concat);
      case K::transpose: return plan_simple(op, KernelKind::transpose);
      case K::lut: return plan_simple(op, KernelKind::lut);
      case K::pad:
      case K::slice:
      case K::resize: return plan_simple(op, KernelKind::gather);
      case K::reshape: {
        Step& s = add_step(op, KernelKind::transpose, op.outputs[0]);
        s.alias = true;
        s.args.push_back(operand(op, 0));
        if (op.inputs[0]->is_constant()) fail("{}: reshaping a constant is not supported", op.describe());
        return;
      }
      default: fail("{}: not an op code generation supports (the graph must be lowered to integers)", op.describe());
    }
  }

  Layout layout_of(const ir::Value* v) const {
    auto it = layouts_.find(v);
    return it == layouts_.end() ? Layout::planar : it->second;
  }
  ArgSpec arg_of(const ir::Value& v) const { return {v.type.dtype, v.type.shape, layout_of(&v)}; }
  // The extent of v's axis that lies innermost in memory, which elementwise kernels vectorize.
  int64_t innermost_extent(const ir::Value& v) const {
    if (v.type.shape.empty()) return 1;
    return layout_of(&v) == Layout::channels_last ? v.type.shape[1] : v.type.shape.back();
  }

  const ir::Graph& g_;
  const targets::Target& t_;
  const Layouts& layouts_;
  const WeightsFor weights_for_;
  KernelPlan plan_;
  std::set<const ir::Op*> skipped_, fused_;
  std::set<const ir::Op*> folded_;  // widen, add and mul ops inside a fused requantize
  std::deque<ir::Op> identity_requantizes_;  // product_requantize's, not in the graph
  std::deque<ir::TensorData> permuted_;      // constants in the channel orders of plan_.channel_orders
  std::map<const ir::Op*, std::vector<const ir::Value*>> fused_sums_;  // requantize -> the widened operands it sums or multiplies
  std::map<const ir::Op*, Residual> residual_by_sum_;
  std::set<const ir::Op*> deferred_;  // convs (and their requantizes) planned where their residual add is
  const Residual* residual_ = nullptr;  // the residual add of the conv being planned
};

}  // namespace

KernelPlan plan_kernels(const ir::Graph& g, const targets::Target& target, Layout layout, WeightsFor weights) {
  KernelPlan plan = Planner(g, target, {}, weights).run();
  if (layout == Layout::planar) return plan;
  // Which tensors can take the layout depends on the steps that produce and read them, which the
  // first plan found; the second plans every step with its tensors' layouts known (a conv's form,
  // and so its weights' arrangement, depends on them).
  return Planner(g, target, choose_layouts(plan, layout), weights).run();
}

int64_t bytes_of(const ir::Value& v) { return ir::num_elements(v.type.shape) * static_cast<int64_t>(ir::byte_size(v.type.dtype)); }

sim::LayerWork layer_work(const KernelPlan& plan, const Step& s) {
  sim::LayerWork w;
  if (s.alias) return w;
  w.macs = s.macs;
  w.results = ir::num_elements(s.result->type.shape);
  w.output_bytes = bytes_of(*s.result);
  for (const Arg& a : s.args) {
    if (a.value) w.input_bytes += bytes_of(*a.value);
    else w.weight_bytes += static_cast<int64_t>(plan.constants[static_cast<size_t>(a.constant)].data.bytes().size());
  }
  int64_t window = 1;
  if (auto it = s.spec.attrs.find("win_kernel"); it != s.spec.attrs.end())
    for (int64_t k : std::get<std::vector<int64_t>>(it->second)) window *= k;
  switch (s.spec.kind) {
    case KernelKind::conv: {
      const int64_t groups = s.spec.get_int("group");
      w.reduction = s.spec.args[0].shape[1] / groups * window;
      w.out_channels = s.spec.result().shape[1] / groups;
      w.requantized = true;
      break;
    }
    case KernelKind::matmul:
      w.reduction = s.spec.args[0].shape.back();
      w.out_channels = s.spec.result().shape.back();
      w.requantized = true;
      break;
    case KernelKind::maxpool:
    case KernelKind::avgpool: w.ops_per_result = window; break;
    case KernelKind::requantize: w.requantized = true; break;
    default: break;
  }
  return w;
}

}  // namespace qatc::codegen
