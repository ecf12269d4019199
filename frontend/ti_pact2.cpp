#include "frontend/ti_pact2.h"

#include "ir/error.h"

#include <algorithm>
#include <cmath>

namespace qatc::frontend {

namespace {

bool is_power_of_two(double v) {
  int e = 0;
  return v > 0 && std::frexp(v, &e) == 0.5;
}

// PACT2's range [lo, hi]: [0, c] or [-c, c] with c a power of two.
bool is_pact2_range(const ir::Op& clip) {
  if (!clip.has("min") || !clip.has("max")) return false;
  const double lo = clip.get_float("min"), hi = clip.get_float("max");
  return is_power_of_two(hi) && (lo == 0 || lo == -hi);
}

// ceil2(v): the smallest power of two >= v (TI's ceil2), at least 2^-16 as TI clamps it.
double ceil2(double v) { return std::ldexp(1.0, static_cast<int>(std::ceil(std::log2(std::max(v, 0x1p-16))))); }

// TI's round_sym: int(v + (v < 0 ? -0.5 : 0.5)), half away from zero.
double round_sym(double v) { return std::trunc(v + (v < 0 ? -0.5 : 0.5)); }

ir::QuantParams grid(double step, int bits, bool is_signed) {
  ir::QuantParams q;
  q.scales = {step};
  q.zero_points = {0};
  q.bits = bits;
  q.is_signed = is_signed;
  return q;
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

// The PACT2 step of a dequantized activation (possibly reshaped, as by a Flatten), or 0.
double activation_step(const ir::Value& v, bool& is_signed) {
  const ir::Op* p = v.producer;
  while (p && (p->kind == ir::OpKind::reshape || p->kind == ir::OpKind::transpose)) p = p->inputs[0]->producer;
  if (!p || p->kind != ir::OpKind::dequantize) return 0;
  const ir::QuantParams& q = *p->inputs[0]->type.quant;
  is_signed = q.is_signed;
  return q.scales[0];
}

// TI's bias: 8 bits on its own power-of-two grid, then onto the joint grid J = 1 / (s_in · s_w)
// with the 15-bit saturation rule (quant_train_module.py, CONSTRAIN_BIAS_TYPE_SATURATE).
ir::TensorData ti_bias(const ir::TensorData& b, double s_in, double s_w, bool signed_input) {
  double max_abs = 0;
  for (int64_t i = 0; i < b.size(); ++i) max_abs = std::max(max_abs, std::fabs(b.float_at(i)));
  const double bias_scale = 128 / ceil2(max_abs), joint = 1 / (s_in * s_w);
  const double ratio = std::trunc(joint / bias_scale), qmax = signed_input ? 127 : 255;
  // Every result is a small integer times a power of two (at most 16 significant bits): a float32
  // holds it exactly.
  ir::TensorData out(ir::DType::f32, b.shape());
  for (int64_t i = 0; i < b.size(); ++i) {
    const double b8 = std::clamp(round_sym(b.float_at(i) * bias_scale), -128.0, 127.0) / bias_scale;
    double v;
    if (ratio > qmax) {
      const double bq = std::clamp(b8 * joint, -32768.0, 32767.0);
      v = std::clamp(std::trunc(bq / qmax), -128.0, 127.0) * qmax / joint;
    } else {
      v = std::trunc(b8 * joint) / joint;
    }
    out.as<float>()[static_cast<size_t>(i)] = static_cast<float>(v);
  }
  return out;
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

void apply_ti_pact2(ir::Graph& g) {
  // Activations first: the weights' bias rule needs the input's grid.
  for (ir::Op* clip : g.ops()) {
    if (clip->kind != ir::OpKind::clip || ir::is_integer(clip->outputs[0]->type.dtype)) continue;
    if (!is_pact2_range(*clip))
      fail("{}: a PACT2 quantization point needs a power-of-two range [0, c] or [-c, c]", clip->describe());
    const double lo = clip->get_float("min"), hi = clip->get_float("max");
    const bool is_signed = lo < 0;
    ir::Value* out = clip->outputs[0];
    const std::string name = out->name;
    ir::Value* dq = fake_quant(g, clip->inputs[0], grid(std::ldexp(hi, is_signed ? -7 : -8), 8, is_signed), "half_up", name, clip->name);
    g.replace_all_uses(out, dq);
    g.erase_op(clip);
    g.rename(dq, name);
  }
  for (ir::Op* op : g.ops()) {
    if (op->kind != ir::OpKind::conv && op->kind != ir::OpKind::matmul) continue;
    // The weight constant, possibly behind the transpose a Gemm's transB left (per tensor, the grid
    // does not care about the layout).
    ir::Op* user = op;
    size_t operand = 1;
    while (user->inputs[operand]->producer && user->inputs[operand]->producer->kind == ir::OpKind::transpose) {
      user = user->inputs[operand]->producer;
      operand = 0;
    }
    ir::Value* w = user->inputs[operand];
    if (!w->is_constant() || w->type.dtype != ir::DType::f32) continue;
    double max_abs = 0;
    for (int64_t i = 0; i < w->data->size(); ++i) max_abs = std::max(max_abs, std::fabs(w->data->float_at(i)));
    const double s_w = ceil2(max_abs) / 128;
    user->inputs[operand] = fake_quant(g, w, grid(s_w, 8, true), "half_away", w->name, op->name);
    bool signed_input = true;
    const double s_in = activation_step(*op->inputs[0], signed_input);
    // The bias: the conv's third operand, or the constant a Gemm's matmul result is added to.
    ir::Value** bias = nullptr;
    if (op->kind == ir::OpKind::conv && op->inputs.size() > 2) {
      bias = &op->inputs[2];
    } else if (op->kind == ir::OpKind::matmul) {
      const std::vector<ir::Op*> users = g.users(op->outputs[0]);
      if (users.size() == 1 && users[0]->kind == ir::OpKind::add && users[0]->inputs[1]->is_constant())
        bias = &users[0]->inputs[1];
    }
    if (bias && (*bias)->is_constant()) {
      if (s_in == 0) fail("{}: the input of a PACT2 layer must come from a quantization point (a Clip)", op->describe());
      *bias = g.add_constant(g.unique_name((*bias)->name + ".ti"), ti_bias(*(*bias)->data, s_in, s_w, signed_input));
    }
  }
  g.sort_topologically();
  g.erase_unused_values();
}

}  // namespace qatc::frontend
