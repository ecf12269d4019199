// Products, normalization, elementwise arithmetic and activations.
#include "frontend/converters.h"

#include <limits>

namespace qatc::frontend {

namespace {

ir::Value* float_scalar(ImportContext& ctx, const std::string& suffix, double v) {
  float f = static_cast<float>(v);
  return ctx.add_constant(suffix, ir::TensorData::from<float>({}, std::span<const float>(&f, 1)));
}

// Integer elementwise arithmetic in ONNX wraps around; the IR's integer ops never do, so refuse.
void convert_binary(ImportContext& ctx, ir::OpKind kind) {
  const ir::TensorData *ca = ctx.constant_input(0), *cb = ctx.constant_input(1);
  if (ca && cb && ir::is_integer(ca->dtype()) && ir::is_integer(cb->dtype()))
    return fold_integer_arithmetic(ctx, kind, *ca, *cb);
  ir::Value* a = ctx.input(0);
  ir::Value* b = ctx.input(1);
  for (ir::Value* v : {a, b})
    if (!ir::is_float(v->type.dtype))
      ctx.refuse("arithmetic on the {} tensor '{}' is not supported (float only)", ir::dtype_name(v->type.dtype), v->name);
  ctx.emit(kind, {a, b});
}

}  // namespace

void convert_matmul(ImportContext& ctx) { ctx.emit(ir::OpKind::matmul, {ctx.input(0), ctx.input(1)}); }

// Gemm = alpha * A' * B' + beta * C, decomposed into transpose, matmul, mul and add in ONNX's order.
void convert_gemm(ImportContext& ctx) {
  ir::Value* a = ctx.input(0);
  ir::Value* b = ctx.input(1);
  if (a->type.shape.size() != 2 || b->type.shape.size() != 2) ctx.refuse("A and B must be matrices");
  if (ctx.attr_int("transA", 0)) a = ctx.emit(ir::OpKind::transpose, {a}, {{"perm", std::vector<int64_t>{1, 0}}}, "transpose_a");
  if (ctx.attr_int("transB", 0)) b = ctx.emit(ir::OpKind::transpose, {b}, {{"perm", std::vector<int64_t>{1, 0}}}, "transpose_b");
  double alpha = ctx.attr_float("alpha", 1.0), beta = ctx.attr_float("beta", 1.0);
  bool has_c = ctx.has_input(2);
  bool scaled = alpha != 1.0;
  ir::Value* y = ctx.emit(ir::OpKind::matmul, {a, b}, {}, has_c || scaled ? "matmul" : "");
  if (scaled) y = ctx.emit(ir::OpKind::mul, {y, float_scalar(ctx, "alpha_value", alpha)}, {}, has_c ? "alpha" : "");
  if (!has_c) return;
  ir::Value* c = ctx.input(2);
  if (beta != 1.0) c = ctx.emit(ir::OpKind::mul, {c, float_scalar(ctx, "beta_value", beta)}, {}, "beta");
  ctx.emit(ir::OpKind::add, {y, c});
}

void convert_batch_normalization(ImportContext& ctx) {
  if (ctx.attr_int("training_mode", 0) != 0) ctx.refuse("training_mode=1 is not supported (inference only)");
  if (ctx.attr_int("spatial", 1) != 1) ctx.refuse("spatial=0 is not supported");
  std::vector<ir::Value*> inputs;
  for (int i = 0; i < 5; ++i) inputs.push_back(ctx.input(i));
  ctx.emit(ir::OpKind::batchnorm, inputs, {{"epsilon", ctx.attr_float("epsilon", static_cast<double>(1e-5f))}});
}

void convert_add(ImportContext& ctx) { convert_binary(ctx, ir::OpKind::add); }
void convert_sub(ImportContext& ctx) { convert_binary(ctx, ir::OpKind::sub); }
void convert_mul(ImportContext& ctx) { convert_binary(ctx, ir::OpKind::mul); }
void convert_div(ImportContext& ctx) { convert_binary(ctx, ir::OpKind::div); }

void convert_relu(ImportContext& ctx) { ctx.emit(ir::OpKind::relu, {ctx.input(0)}); }

namespace {

constexpr double kTorchSixth = static_cast<double>(1.0f / 6.0f);

// PyTorch exports its hardsigmoid, min(max(x + 3, 0), 6) / 6, as HardSigmoid(alpha = float32(1/6),
// beta = 1/2), and its hardswish as HardSwish (opset 14) or x · that HardSigmoid: from a PyTorch
// model these are read as torch's formulas, which is what PyTorch computed in training (in float32:
// add, clamp, multiply, divide) and, exactly, what (x + 3)/6 is. x · float32(1/6) + 1/2 differs from
// it, lands off the ties (x + 3)/6 lands on, and so rounds some codes differently.
bool torch_hard_sigmoid(const ImportContext& ctx, double alpha, double beta) {
  return ctx.producer() == "pytorch" && alpha == kTorchSixth && beta == 0.5;
}

// relu6(x + 3): torch's hardsigmoid and hardswish before their division by 6.
ir::Value* torch_relu6_shifted(ImportContext& ctx, ir::Value* x) {
  ir::Value* shifted = ctx.emit(ir::OpKind::add, {x, float_scalar(ctx, "three", 3.0)}, {}, "plus_three");
  return ctx.emit(ir::OpKind::clip, {shifted}, {{"min", 0.0}, {"max", 6.0}}, "relu6");
}

// max(0, min(1, alpha·x + beta)) as the float ops ONNX defines it by; the last op is named `suffix`.
ir::Value* onnx_hard_sigmoid(ImportContext& ctx, ir::Value* x, double alpha, double beta, const std::string& suffix) {
  ir::Value* scaled = ctx.emit(ir::OpKind::mul, {x, float_scalar(ctx, "alpha_value", alpha)}, {}, "alpha");
  ir::Value* shifted = ctx.emit(ir::OpKind::add, {scaled, float_scalar(ctx, "beta_value", beta)}, {}, "beta");
  return ctx.emit(ir::OpKind::clip, {shifted}, {{"min", 0.0}, {"max", 1.0}}, suffix);
}

}  // namespace

void convert_hard_sigmoid(ImportContext& ctx) {
  const double alpha = ctx.attr_float("alpha", static_cast<double>(0.2f));
  const double beta = ctx.attr_float("beta", 0.5);
  ir::Value* x = ctx.input(0);
  if (torch_hard_sigmoid(ctx, alpha, beta)) {
    ctx.emit(ir::OpKind::div, {torch_relu6_shifted(ctx, x), float_scalar(ctx, "six", 6.0)});
    return;
  }
  onnx_hard_sigmoid(ctx, x, alpha, beta, "");
}

// x · hardsigmoid(x) with alpha = 1/6, beta = 1/2; torch's x · relu6(x + 3) / 6 from a PyTorch model.
void convert_hard_swish(ImportContext& ctx) {
  ir::Value* x = ctx.input(0);
  if (torch_hard_sigmoid(ctx, kTorchSixth, 0.5)) {
    ir::Value* product = ctx.emit(ir::OpKind::mul, {x, torch_relu6_shifted(ctx, x)}, {}, "times_x");
    ctx.emit(ir::OpKind::div, {product, float_scalar(ctx, "six", 6.0)});
    return;
  }
  ctx.emit(ir::OpKind::mul, {x, onnx_hard_sigmoid(ctx, x, kTorchSixth, 0.5, "hard_sigmoid")});
}

void convert_leaky_relu(ImportContext& ctx) {
  ctx.emit(ir::OpKind::leaky_relu, {ctx.input(0)}, {{"alpha", ctx.attr_float("alpha", static_cast<double>(0.01f))}});
}

void convert_elu(ImportContext& ctx) {
  ctx.emit(ir::OpKind::elu, {ctx.input(0)}, {{"alpha", ctx.attr_float("alpha", 1.0)}});
}

void convert_sigmoid(ImportContext& ctx) { ctx.emit(ir::OpKind::sigmoid, {ctx.input(0)}); }
void convert_tanh(ImportContext& ctx) { ctx.emit(ir::OpKind::tanh, {ctx.input(0)}); }
void convert_erf(ImportContext& ctx) { ctx.emit(ir::OpKind::erf, {ctx.input(0)}); }
void convert_exp(ImportContext& ctx) { ctx.emit(ir::OpKind::exp, {ctx.input(0)}); }
void convert_log(ImportContext& ctx) { ctx.emit(ir::OpKind::log, {ctx.input(0)}); }
void convert_softplus(ImportContext& ctx) { ctx.emit(ir::OpKind::softplus, {ctx.input(0)}); }

// Bounds: attributes before opset 11, optional constant operands from 11 on. Absent = unbounded.
void convert_clip(ImportContext& ctx) {
  std::map<std::string, ir::AttrValue> attrs;
  if (ctx.opset() < 11) {
    // Clip-6's defaults are the float32 extremes: unbounded in effect.
    double lo = ctx.attr_float("min", std::numeric_limits<float>::lowest());
    double hi = ctx.attr_float("max", std::numeric_limits<float>::max());
    if (lo > std::numeric_limits<float>::lowest()) attrs["min"] = lo;
    if (hi < std::numeric_limits<float>::max()) attrs["max"] = hi;
  } else {
    if (ctx.has_input(1)) attrs["min"] = ctx.constant_scalar(1, "min bound");
    if (ctx.has_input(2)) attrs["max"] = ctx.constant_scalar(2, "max bound");
  }
  // Clipping quantized integers (PyTorch's reduce_range export: Q -> Clip(0, 127) -> DQ) keeps
  // their grid: the result carries the operand's quantization parameters.
  ir::Value* x = ctx.input(0);
  ctx.emit(ir::OpKind::clip, {x}, attrs, "", ir::TensorType{x->type.dtype, {}, x->type.quant});
}

}  // namespace qatc::frontend
