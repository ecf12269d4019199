#include "frontend/ti_pact2.h"

#include "ir/error.h"

#include <algorithm>
#include <cmath>

namespace qatc::frontend {

namespace {

using PerChannel = TiPact2Options::PerChannel;
using BiasRule = TiPact2Options::BiasRule;

bool is_power_of_two(double v) {
  int e = 0;
  return v > 0 && std::frexp(v, &e) == 0.5;
}

// PACT2's range [lo, hi]: [0, c] or [-c, c] with c a power of two.
bool is_pact2_range(double lo, double hi) { return is_power_of_two(hi) && (lo == 0 || lo == -hi); }
bool is_pact2_range(const ir::Op& clip) {
  return clip.has("min") && clip.has("max") && is_pact2_range(clip.get_float("min"), clip.get_float("max"));
}

// ceil2(v): the smallest power of two >= v, at least TI's eps 2^-16.
double ceil2(double v) { return std::ldexp(1.0, static_cast<int>(std::ceil(std::log2(std::max(v, 0x1p-16))))); }

// TI's round_sym: int(v + (v < 0 ? -0.5 : 0.5)), half away from zero.
double round_sym(double v) { return std::trunc(v + (v < 0 ? -0.5 : 0.5)); }

double max_abs(const ir::TensorData& t, int64_t begin, int64_t end) {
  double m = 0;
  for (int64_t i = begin; i < end; ++i) m = std::max(m, std::fabs(t.float_at(i)));
  return m;
}

// quantize(x) by `rule` onto `q`, then dequantize: the fake-quant the clip or weight stood for.
ir::Value* fake_quant(ir::Graph& g, ir::Value* x, const ir::QuantParams& q, const char* rule, const std::string& name,
                      const std::string& loc) {
  const ir::DType storage = q.is_signed ? ir::DType::i8 : ir::DType::u8;
  ir::Value* qv = g.add_op(ir::OpKind::quantize, {x}, {{g.unique_name(name + "/q"), {storage, x->type.shape, q}}},
                           {{"round", std::string(rule)}}, loc)
                      ->outputs[0];
  return g.add_op(ir::OpKind::dequantize, {qv}, {{g.unique_name(name + "/dq"), {ir::DType::f32, x->type.shape, std::nullopt}}},
                  {}, loc)
      ->outputs[0];
}

// --ti-range: a Clip on the named tensor, as if the export had one. The clipped tensor keeps the
// name, so reports show the range where the user put it.
void add_user_ranges(ir::Graph& g, const TiPact2Options& options) {
  for (const auto& [name, range] : options.ranges) {
    const auto [lo, hi] = range;
    if (!is_pact2_range(lo, hi))
      fail("--ti-range {}={},{}: a PACT2 range is [0, c] or [-c, c] with c a power of two", name, lo, hi);
    ir::Value* v = g.find_value(name);
    if (!v) fail("--ti-range: the model has no tensor '{}'", name);
    if (v->is_constant() || v->type.dtype != ir::DType::f32) fail("--ti-range: tensor '{}' is not a float activation", name);
    if (v->producer && v->producer->kind == ir::OpKind::clip)
      fail("--ti-range: tensor '{}' already has a range: it is the output of {}", name, v->producer->describe());
    g.rename(v, g.unique_name(name + "/unranged"));
    ir::Value* clipped =
        g.add_op(ir::OpKind::clip, {v}, {{name, v->type}}, {{"min", lo}, {"max", hi}}, "--ti-range " + name)->outputs[0];
    g.replace_all_uses(v, clipped);
    clipped->producer->inputs[0] = v;
  }
}

// Each PACT2 Clip becomes its fake-quant; the clipped tensor keeps its name.
void quantize_activations(ir::Graph& g) {
  for (ir::Op* clip : g.ops()) {
    if (clip->kind != ir::OpKind::clip || ir::is_integer(clip->outputs[0]->type.dtype)) continue;
    if (!is_pact2_range(*clip))
      fail("{}: a PACT2 quantization point needs a power-of-two range [0, c] or [-c, c]", clip->describe());
    const double lo = clip->get_float("min"), hi = clip->get_float("max");
    const bool is_signed = lo < 0;
    ir::QuantParams q;
    q.scales = {std::ldexp(hi, is_signed ? -7 : -8)};
    q.zero_points = {0};
    q.is_signed = is_signed;
    ir::Value* out = clip->outputs[0];
    const std::string name = out->name;
    ir::Value* dq = fake_quant(g, clip->inputs[0], q, "half_up", name, clip->name);
    g.replace_all_uses(out, dq);
    g.erase_op(clip);
    g.rename(dq, name);
  }
}

// The PACT2 step of a dequantized activation (possibly reshaped, as by a Flatten), or 0.
double activation_step(const ir::Value& v, bool& is_signed) {
  const ir::Op* p = v.producer;
  while (p && (p->kind == ir::OpKind::reshape || p->kind == ir::OpKind::transpose)) p = p->inputs[0]->producer;
  if (!p || p->kind != ir::OpKind::dequantize) return 0;
  const ir::QuantParams& q = *p->inputs[0]->type.quant;
  is_signed = q.is_signed;
  return q.scales[0];
}

// Whether every path from v reaches a PACT2 point, through the ReLUs TI folds into it.
bool reaches_pact2(const ir::Graph& g, const ir::Value* v) {
  const std::vector<ir::Op*> users = g.users(v);
  return !users.empty() && !g.is_output(v) && std::all_of(users.begin(), users.end(), [&](const ir::Op* u) {
    return u->kind == ir::OpKind::quantize || (u->kind == ir::OpKind::relu && reaches_pact2(g, u->outputs[0]));
  });
}

// TI's conv + BatchNormalization merge (merge_quantize_weights), in float32 as torch computes it:
// s = gamma / sqrt(var + eps), w' = w · s, b' = (b - mean) · s + beta.
void merge_batchnorm(ir::Graph& g, ir::Op* conv) {
  const std::vector<ir::Op*> users = g.users(conv->outputs[0]);
  if (users.size() != 1 || users[0]->kind != ir::OpKind::batchnorm || g.is_output(conv->outputs[0])) return;
  ir::Op* bn = users[0];
  for (size_t i = 1; i < bn->inputs.size(); ++i)
    if (!bn->inputs[i]->is_constant()) fail("{}: TI merges a BatchNormalization into its conv only with constant parameters", bn->describe());
  const ir::Value* w = conv->inputs[1];
  const int64_t channels = w->type.shape[0], per_channel = w->data->size() / channels;
  const auto param = [&](size_t i, int64_t c) { return static_cast<float>(bn->inputs[i]->data->float_at(c)); };
  const float eps = static_cast<float>(bn->get_float("epsilon"));
  ir::TensorData weight(ir::DType::f32, w->type.shape), bias(ir::DType::f32, {channels});
  for (int64_t c = 0; c < channels; ++c) {
    const float s = param(1, c) / std::sqrt(param(4, c) + eps);
    const float b = conv->inputs.size() > 2 ? static_cast<float>(conv->inputs[2]->data->float_at(c)) : 0.0f;
    bias.as<float>()[static_cast<size_t>(c)] = (b - param(3, c)) * s + param(2, c);
    for (int64_t i = c * per_channel; i < (c + 1) * per_channel; ++i)
      weight.as<float>()[static_cast<size_t>(i)] = static_cast<float>(w->data->float_at(i)) * s;
  }
  conv->inputs[1] = g.add_constant(g.unique_name(w->name + ".bn"), std::move(weight));
  ir::Value* b = g.add_constant(g.unique_name(bn->inputs[2]->name + ".bn"), std::move(bias));
  if (conv->inputs.size() > 2) conv->inputs[2] = b;
  else conv->inputs.push_back(b);
  ir::Value* out = bn->outputs[0];
  const std::string name = out->name;
  g.replace_all_uses(out, conv->outputs[0]);
  g.erase_op(bn);
  g.rename(conv->outputs[0], name);
}

// TI's is_dwconv: one group per input and per output channel.
bool is_depthwise(const ir::Op& conv) {
  const int64_t groups = conv.has("group") ? conv.get_int("group") : 1;
  return groups > 1 && conv.inputs[0]->type.shape[1] == groups && conv.outputs[0]->type.shape[1] == groups;
}

// The weight steps (1 / TI's weight_scale2): ceil2(max|w|) / 128 per tensor; per output channel
// (along `axis`) the channel's own, but at most 256 times finer than the tensor's.
std::vector<double> weight_steps(const ir::TensorData& w, int axis, bool per_channel) {
  const double tensor_step = ceil2(max_abs(w, 0, w.size())) / 128;
  if (!per_channel) return {tensor_step};
  const int64_t channels = w.shape()[static_cast<size_t>(axis)];
  int64_t inner = 1;
  for (size_t d = static_cast<size_t>(axis) + 1; d < w.shape().size(); ++d) inner *= w.shape()[d];
  std::vector<double> channel_max(static_cast<size_t>(channels), 0.0);
  for (int64_t i = 0; i < w.size(); ++i) {
    double& m = channel_max[static_cast<size_t>(i / inner % channels)];
    m = std::max(m, std::fabs(w.float_at(i)));
  }
  std::vector<double> steps;
  for (double m : channel_max) steps.push_back(std::max(ceil2(m) / 128, tensor_step / 256));
  return steps;
}

// TI's bias: 8 bits on its own power-of-two grid; with the saturate rule, then onto the joint grid
// J = 1 / (s_in · s_w) with the 15-bit saturation rule (CONSTRAIN_BIAS_TYPE_SATURATE).
ir::TensorData ti_bias(const ir::TensorData& b, BiasRule rule, double s_in, double s_w, bool signed_input) {
  const double bias_scale = 128 / ceil2(max_abs(b, 0, b.size())), joint = 1 / (s_in * s_w);
  const double ratio = std::trunc(joint / bias_scale), qmax = signed_input ? 127 : 255;
  // Every result is a small integer times a power of two (at most 16 significant bits): a float32
  // holds it exactly.
  ir::TensorData out(ir::DType::f32, b.shape());
  for (int64_t i = 0; i < b.size(); ++i) {
    double v = std::clamp(round_sym(b.float_at(i) * bias_scale), -128.0, 127.0) / bias_scale;
    if (rule == BiasRule::saturate && ratio > qmax)
      v = std::clamp(std::trunc(std::clamp(v * joint, -32768.0, 32767.0) / qmax), -128.0, 127.0) * qmax / joint;
    else if (rule == BiasRule::saturate)
      v = std::trunc(v * joint) / joint;
    out.as<float>()[static_cast<size_t>(i)] = static_cast<float>(v);
  }
  return out;
}

// The weight constant of a conv/matmul, possibly behind the transpose a Gemm's transB left, with
// the axis of its output channels: {user op, operand index, axis}.
struct WeightOperand {
  ir::Op* user;
  size_t operand;
  int axis;
};
WeightOperand weight_operand(ir::Op* op) {
  if (op->kind == ir::OpKind::conv) return {op, 1, 0};
  WeightOperand w{op, 1, static_cast<int>(op->inputs[1]->type.shape.size()) - 1};
  while (w.user->inputs[w.operand]->producer && w.user->inputs[w.operand]->producer->kind == ir::OpKind::transpose) {
    w.user = w.user->inputs[w.operand]->producer;
    w.operand = 0;
    w.axis = 0;  // a transposed [N, K] Gemm weight: outputs along rows
  }
  return w;
}

void quantize_layer(ir::Graph& g, ir::Op* op, const TiPact2Options& options) {
  WeightOperand wo = weight_operand(op);
  ir::Value* w = wo.user->inputs[wo.operand];
  if (!w->is_constant() || w->type.dtype != ir::DType::f32) return;  // a product of two activations
  bool signed_input = true;
  const double s_in = activation_step(*op->inputs[0], signed_input);
  if (s_in == 0)
    fail("{}: its input '{}' does not come from a PACT2 quantization point (a Clip), so TI leaves this layer "
         "unquantized; give that tensor a range with --ti-range {}=LO,HI",
         op->describe(), op->inputs[0]->name, op->inputs[0]->name);
  // The bias: the conv's third operand, or the constant a Gemm's matmul result is added to.
  ir::Value** bias = nullptr;
  ir::Value* result = op->outputs[0];
  if (op->kind == ir::OpKind::conv && op->inputs.size() > 2) {
    bias = &op->inputs[2];
  } else if (op->kind == ir::OpKind::matmul) {
    const std::vector<ir::Op*> users = g.users(result);
    if (users.size() == 1 && users[0]->kind == ir::OpKind::add && users[0]->inputs[1]->is_constant()) {
      bias = &users[0]->inputs[1];
      result = users[0]->outputs[0];
    }
  }
  if (!reaches_pact2(g, result))
    fail("{}: its output '{}' is not read by a PACT2 quantization point (a Clip), so TI leaves this layer "
         "unquantized; give that tensor a range with --ti-range {}=LO,HI",
         op->describe(), result->name, result->name);

  const bool per_channel = options.per_channel == PerChannel::all ||
                           (options.per_channel == PerChannel::depthwise && op->kind == ir::OpKind::conv && is_depthwise(*op));
  std::vector<double> steps = weight_steps(*w->data, wo.axis, per_channel);
  if (options.bias == BiasRule::reduce_weight_scale) {
    // The weight grid is coarsened until the bias fits 16 bits on the joint grid:
    // weight_scale2 <= (2^15 / ceil2(max|b|)) / input_scale2.
    const double bias_max = bias && (*bias)->is_constant() ? max_abs(*(*bias)->data, 0, (*bias)->data->size()) : 0;
    for (double& s : steps) s = std::max(s, ceil2(bias_max) / (0x1p15 * s_in));
  }
  ir::QuantParams q;
  q.scales = steps;
  q.zero_points.assign(steps.size(), 0);
  q.axis = per_channel ? wo.axis : -1;
  wo.user->inputs[wo.operand] = fake_quant(g, w, q, "half_away", w->name, op->name);
  if (bias && (*bias)->is_constant())
    *bias = g.add_constant(g.unique_name((*bias)->name + ".ti"), ti_bias(*(*bias)->data, options.bias, s_in, steps[0], signed_input));
}

}  // namespace

bool looks_like_ti_pact2(const ir::Graph& g) {
  bool product = false;
  for (const ir::Op* op : g.ops()) {
    if (op->kind == ir::OpKind::quantize || op->kind == ir::OpKind::dequantize) return false;
    product |= op->kind == ir::OpKind::conv || op->kind == ir::OpKind::matmul;
  }
  if (!product || g.inputs().empty()) return false;
  for (const ir::Value* in : g.inputs()) {
    const std::vector<ir::Op*> users = g.users(in);
    if (users.empty() || !std::all_of(users.begin(), users.end(), [](const ir::Op* u) {
          return u->kind == ir::OpKind::clip && is_pact2_range(*u);
        }))
      return false;
  }
  return true;
}

void apply_ti_pact2(ir::Graph& g, const TiPact2Options& options) {
  // QuantTrainModule refuses per_channel_q='all' with a bias rule other than NONE, and with its
  // default SATURATE a per-channel weight scale makes the bias step fail in torch.
  if (options.per_channel != PerChannel::none && options.bias == BiasRule::saturate)
    fail("--ti-per-channel needs --ti-bias none or reduce-weight-scale: TI's QuantTrainModule cannot run per-channel "
         "weights with its default saturating bias rule");
  if (options.per_channel == PerChannel::all && options.bias != BiasRule::none)
    fail("--ti-per-channel all needs --ti-bias none, as TI's QuantTrainModule requires");
  add_user_ranges(g, options);
  // The convs first: a merge erases the BatchNormalization after it, which a walk over the ops
  // would then visit.
  std::vector<ir::Op*> convs;
  for (ir::Op* op : g.ops())
    if (op->kind == ir::OpKind::conv) convs.push_back(op);
  for (ir::Op* conv : convs) merge_batchnorm(g, conv);
  for (ir::Op* op : g.ops())
    if (op->kind == ir::OpKind::batchnorm) fail("{}: TI merges a BatchNormalization only into the conv before it", op->describe());
  // Activations first: the layers' bias rule needs their input's grid.
  quantize_activations(g);
  for (ir::Op* op : g.ops())
    if (op->kind == ir::OpKind::conv || op->kind == ir::OpKind::matmul) quantize_layer(g, op, options);
  g.sort_topologically();
  g.erase_unused_values();
}

}  // namespace qatc::frontend
