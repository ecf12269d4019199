// ONNX's QOperator form of quantized models (ONNX Runtime's quantizer, Intel Neural Compressor).
// ConvInteger and MatMulInteger are integer products with zero points: they become the IR's
// integer conv and matmul, the weights' zero point subtracted into the weight constant and the
// input's kept as x_zero_point. QLinearConv and QLinearMatMul requantize to a scale of their own:
// they become the fake-quant graph they stand for — dequantize, float product, quantize (round
// half to even) — which the lowering turns into integers as it does a QDQ graph.
#include "frontend/converters.h"
#include "frontend/quant_operands.h"
#include "frontend/window_attrs.h"

namespace qatc::frontend {

namespace {

// The int32 accumulator type of ConvInteger and MatMulInteger results.
ir::TensorType int32_result() { return {ir::DType::i32, {}, std::nullopt}; }

bool is_8bit(ir::DType t) { return t == ir::DType::i8 || t == ir::DType::u8; }

void require_8bit(const ImportContext& ctx, ir::DType t, std::string_view role, const std::string& name) {
  if (!is_8bit(t)) ctx.refuse("the {} '{}' is {}; int8 or uint8 is supported", role, name, ir::dtype_name(t));
}

ir::Value* input_8bit(ImportContext& ctx, int i, std::string_view role) {
  ir::Value* v = ctx.input(i);
  require_8bit(ctx, v->type.dtype, role, v->name);
  return v;
}

// The input's zero point, one value (ConvInteger x_zero_point, MatMulInteger a_zero_point), or 0.
int64_t input_zero_point(const ImportContext& ctx, int i, const ir::Value& x) {
  if (!ctx.has_input(i)) return 0;
  const ir::TensorData& zp = ctx.require_constant(i, "zero point");
  const std::string& name = ctx.node().input(i);
  if (zp.dtype() != x.type.dtype)
    ctx.refuse("the zero point '{}' is {}, '{}' is {}", name, ir::dtype_name(zp.dtype()), x.name, ir::dtype_name(x.type.dtype));
  if (zp.size() != 1) ctx.refuse("the zero point '{}' must hold one value (per tensor), has {}", name, zp.size());
  return zp.int_at(0);
}

// Operand indices of a ConvInteger/MatMulInteger weight and its zero point.
struct WeightOperands {
  int weight;
  int zero_point;
};

template <typename T>
ir::TensorData narrowed(const ir::Shape& shape, const std::vector<int64_t>& values) {
  std::vector<T> v(values.begin(), values.end());
  return ir::TensorData::from<T>(shape, v);
}

// The constant weight minus its zero point, which is one value or (given `axis`) one per index of
// `axis`, as a constant in i8 when every value fits, else i16 (uint8 - uint8 needs 9 bits).
// The IR's integer products take weights zero-centred, so the lowering sees one operand offset.
ir::Value* zero_centred_weight(ImportContext& ctx, WeightOperands operands, std::optional<size_t> axis,
                               const std::string& suffix) {
  const ir::TensorData& w = ctx.require_constant(operands.weight, "weight");
  const std::string& w_name = ctx.node().input(operands.weight);
  require_8bit(ctx, w.dtype(), "weight", w_name);
  const ir::Shape& shape = w.shape();
  std::vector<int64_t> zero_points{0};
  if (ctx.has_input(operands.zero_point)) {
    const ir::TensorData& zp = ctx.require_constant(operands.zero_point, "zero point");
    const std::string& zp_name = ctx.node().input(operands.zero_point);
    if (zp.dtype() != w.dtype())
      ctx.refuse("the zero point '{}' is {}, '{}' is {}", zp_name, ir::dtype_name(zp.dtype()), w_name, ir::dtype_name(w.dtype()));
    // Every other dimension of the zero point is 1 (MatMulInteger allows [..., 1, N]).
    bool per_index = axis && *axis < shape.size() && zp.size() > 1 && zp.size() == shape[*axis] &&
                     zp.shape().back() == zp.size();
    if (zp.size() != 1 && !per_index) {
      if (!axis) ctx.refuse("the zero point '{}' must hold one value, has {}", zp_name, zp.size());
      ctx.refuse("the zero point '{}' of shape [{}] is neither one value nor one per index of axis {} of '{}'",
                 zp_name, fmt::join(zp.shape(), ","), *axis, w_name);
    }
    zero_points.resize(zp.size());
    for (int64_t i = 0; i < zp.size(); ++i) zero_points[i] = zp.int_at(i);
  }
  // Element i has index (i / inner) % n along the axis.
  const auto n = static_cast<int64_t>(zero_points.size());
  int64_t inner = 1;
  if (n > 1)
    for (size_t d = *axis + 1; d < shape.size(); ++d) inner *= shape[d];
  std::vector<int64_t> centred(w.size());
  bool fits_i8 = true;
  for (int64_t i = 0; i < w.size(); ++i) {
    centred[i] = w.int_at(i) - zero_points[(i / inner) % n];
    fits_i8 &= centred[i] >= ir::int_min(ir::DType::i8) && centred[i] <= ir::int_max(ir::DType::i8);
  }
  return ctx.add_constant(suffix, fits_i8 ? narrowed<int8_t>(shape, centred) : narrowed<int16_t>(shape, centred));
}

// The integer type of a QLinear op's result: its zero point's (operand `zero_point`).
ir::DType result_storage(const ImportContext& ctx, int zero_point) {
  const ir::TensorData& zp = ctx.require_constant(zero_point, "zero point");
  require_8bit(ctx, zp.dtype(), "output zero point", ctx.node().input(zero_point));
  return zp.dtype();
}

// QLinearConv's int32 bias B, dequantized with scale x_scale * w_scale per output channel and zero
// point 0, as the operator defines it. Each product of two float32 scales is exact in a double.
ir::Value* dequantized_bias(ImportContext& ctx, int i, const ir::QuantParams& x, const ir::QuantParams& w) {
  ir::Value* bias = ctx.input(i);
  if (bias->type.dtype != ir::DType::i32)
    ctx.refuse("the bias '{}' is {}; QLinearConv takes an int32 bias", bias->name, ir::dtype_name(bias->type.dtype));
  ir::QuantParams q;
  q.bits = 32;
  q.is_signed = true;
  q.axis = w.axis;  // 0 (output channels) or per tensor
  for (double s : w.scales) {
    q.scales.push_back(x.scales[0] * s);
    q.zero_points.push_back(0);
  }
  return emit_dequantize(ctx, bias, std::move(q), "bias_dequantized");
}

}  // namespace

// ConvInteger(x, w, x_zero_point, w_zero_point) -> int32: conv(x, w - w_zero_point) {x_zero_point}.
void convert_conv_integer(ImportContext& ctx) {
  ir::Value* x = input_8bit(ctx, 0, "input");
  ir::Value* w = zero_centred_weight(ctx, {.weight = 1, .zero_point = 3}, /*output channels*/ 0, "w_zero_centred");
  Attrs attrs = conv_attrs(ctx, *x, *w);
  attrs["x_zero_point"] = input_zero_point(ctx, 2, *x);
  ctx.emit(ir::OpKind::conv, {x, w}, attrs, "", int32_result());
}

// MatMulInteger(a, b, a_zero_point, b_zero_point) -> int32: matmul(a, b - b_zero_point) {x_zero_point}.
void convert_matmul_integer(ImportContext& ctx) {
  ir::Value* a = input_8bit(ctx, 0, "input");
  const ir::TensorData& b = ctx.require_constant(1, "weight");
  std::optional<size_t> columns;  // a 1-D b is one column
  if (b.shape().size() >= 2) columns = b.shape().size() - 1;
  ir::Value* b_centred = zero_centred_weight(ctx, {.weight = 1, .zero_point = 3}, columns, "b_zero_centred");
  ctx.emit(ir::OpKind::matmul, {a, b_centred}, {{"x_zero_point", input_zero_point(ctx, 2, *a)}}, "", int32_result());
}

// QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp [, B]) -> quantize(conv(dq(x), dq(w), dq(B))).
void convert_qlinear_conv(ImportContext& ctx) {
  ir::Value* x = input_8bit(ctx, 0, "input");
  ir::Value* w = input_8bit(ctx, 3, "weight");
  ir::DType y_storage = result_storage(ctx, 7);
  ir::QuantParams xq = read_quant_params(ctx, {.scale = 1, .zero_point = 2}, x->type.shape, x->type.dtype, std::nullopt);
  ir::QuantParams wq = read_quant_params(ctx, {.scale = 4, .zero_point = 5}, w->type.shape, w->type.dtype, /*M*/ 0);
  ir::QuantParams yq = read_quant_params(ctx, {.scale = 6, .zero_point = 7}, {}, y_storage, std::nullopt);
  Attrs attrs = conv_attrs(ctx, *x, *w);
  std::vector<ir::Value*> operands{emit_dequantize(ctx, x, xq, "x_dequantized"),
                                   emit_dequantize(ctx, w, wq, "w_dequantized")};
  if (ctx.has_input(8)) operands.push_back(dequantized_bias(ctx, 8, xq, wq));
  ir::Value* conv = ctx.emit(ir::OpKind::conv, operands, attrs, "conv");
  emit_quantize(ctx, conv, y_storage, std::move(yq));
}

// QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp) -> quantize(matmul(dq(a), dq(b))).
void convert_qlinear_matmul(ImportContext& ctx) {
  ir::Value* a = input_8bit(ctx, 0, "input");
  ir::Value* b = input_8bit(ctx, 3, "weight");
  ir::DType y_storage = result_storage(ctx, 7);
  std::optional<int64_t> columns;  // b's scale may be one per column (its last axis)
  if (b->type.shape.size() >= 2) columns = -1;
  ir::QuantParams aq = read_quant_params(ctx, {.scale = 1, .zero_point = 2}, a->type.shape, a->type.dtype, std::nullopt);
  ir::QuantParams bq = read_quant_params(ctx, {.scale = 4, .zero_point = 5}, b->type.shape, b->type.dtype, columns);
  ir::QuantParams yq = read_quant_params(ctx, {.scale = 6, .zero_point = 7}, {}, y_storage, std::nullopt);
  ir::Value* product = ctx.emit(ir::OpKind::matmul,
                                {emit_dequantize(ctx, a, aq, "a_dequantized"), emit_dequantize(ctx, b, bq, "b_dequantized")},
                                {}, "matmul");
  emit_quantize(ctx, product, y_storage, std::move(yq));
}

}  // namespace qatc::frontend
