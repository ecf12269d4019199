// QuantizeLinear / DequantizeLinear, opsets 10-21: per-tensor scales of shape [] or [1], per-axis
// 1-D scales (opset >= 13), 8-bit and (opset 21) 16-bit integers. The parameters become
// ir::QuantParams on the integer tensor between the two ops.
#include "frontend/converters.h"
#include "frontend/quant_operands.h"
#include "frontend/tensor_proto.h"

#include <cmath>

namespace qatc::frontend {

ir::QuantParams read_quant_params(ImportContext& ctx, QuantOperands operands, const ir::Shape& shape,
                                  ir::DType storage, std::optional<int64_t> axis) {
  const ir::TensorData& scale = ctx.require_constant(operands.scale, "scale");
  const std::string& scale_name = ctx.node().input(operands.scale);
  if (scale.dtype() != ir::DType::f32)
    ctx.refuse("the scale '{}' must be float32, is {}", scale_name, ir::dtype_name(scale.dtype()));
  ir::QuantParams q;
  q.bits = ir::bit_width(storage);
  q.is_signed = ir::is_signed(storage);
  bool per_tensor = scale.size() == 1 && scale.shape().size() <= 1;
  if (!per_tensor) {
    if (scale.shape().size() != 1)
      ctx.refuse("the scale '{}' must be a scalar or 1-D, has shape [{}]", scale_name, fmt::join(scale.shape(), ","));
    if (!axis)
      ctx.refuse("the scale '{}' must hold one value (per-tensor quantization), has {}", scale_name, scale.size());
    q.axis = static_cast<int>(normalize_axis(ctx, *axis, shape.size()));
    if (shape[q.axis] != scale.size())
      ctx.refuse("{} scales in '{}' for axis {} of size {}", scale.size(), scale_name, q.axis, shape[q.axis]);
  }
  const ir::TensorData* zp =
      ctx.has_input(operands.zero_point) ? &ctx.require_constant(operands.zero_point, "zero point") : nullptr;
  if (zp && zp->size() != scale.size()) ctx.refuse("{} zero points for {} scales", zp->size(), scale.size());
  if (zp && zp->dtype() != storage)
    ctx.refuse("the zero point '{}' is {}, the quantized tensor {}", ctx.node().input(operands.zero_point),
               ir::dtype_name(zp->dtype()), ir::dtype_name(storage));
  for (int64_t i = 0; i < scale.size(); ++i) {
    double s = scale.float_at(i);
    if (!(s > 0) || !std::isfinite(s))
      ctx.refuse("scale {} of '{}' is {}, not a positive finite number", i, scale_name, s);
    q.scales.push_back(s);
    q.zero_points.push_back(zp ? zp->int_at(i) : 0);
  }
  return q;
}

ir::Value* emit_quantize(ImportContext& ctx, ir::Value* x, ir::DType storage, ir::QuantParams q) {
  // ONNX rounds half to even (QuantizeLinear, and the QOperator ops' requantization).
  return ctx.emit(ir::OpKind::quantize, {x}, {{"round", std::string("half_even")}}, "",
                  ir::TensorType{storage, {}, std::move(q)});
}

ir::Value* emit_dequantize(ImportContext& ctx, ir::Value* x, ir::QuantParams q, const std::string& suffix) {
  if (x->type.quant) {
    if (*x->type.quant != q) ctx.refuse("'{}' was quantized with another scale or zero point", x->name);
  } else if (x->is_constant() || !x->producer) {
    x->type.quant = std::move(q);
  } else {
    ctx.refuse("'{}' carries no quantization parameters", x->name);
  }
  return ctx.emit(ir::OpKind::dequantize, {x}, {}, suffix, ir::TensorType{ir::DType::f32, {}, std::nullopt});
}

namespace {

// The integer type the node quantizes to (QuantizeLinear) or from (DequantizeLinear).
ir::DType storage_type(ImportContext& ctx, std::optional<ir::DType> operand_type) {
  std::optional<ir::DType> t = operand_type;
  if (ctx.has_input(2)) t = ctx.require_constant(2, "zero point").dtype();
  if (ctx.attr("output_dtype")) {
    auto out = static_cast<int>(ctx.attr_int("output_dtype", 0));
    if (out != 0) {
      ir::DType d = dtype_from_onnx(out, ctx.describe_node() + ": output_dtype");
      if (t && *t != d) ctx.refuse("output_dtype differs from the zero point's type");
      t = d;
    }
  }
  ir::DType d = t.value_or(ir::DType::u8);  // ONNX's default without a zero point
  bool ok = d == ir::DType::i8 || d == ir::DType::u8 || d == ir::DType::i16 || d == ir::DType::u16 ||
            (d == ir::DType::i32 && ctx.node().op_type() == "DequantizeLinear");
  if (!ok) ctx.refuse("quantized type {} is not supported (int8, uint8, int16, uint16)", ir::dtype_name(d));
  return d;
}

ir::QuantParams qdq_params(ImportContext& ctx, const ir::Shape& shape, ir::DType storage) {
  if (ctx.attr_int("block_size", 0) != 0) ctx.refuse("blocked quantization (block_size) is not supported");
  std::optional<int64_t> axis;  // per-axis scales arrived with opset 13
  if (ctx.opset() >= 13) axis = ctx.attr_int("axis", 1);
  return read_quant_params(ctx, {.scale = 1, .zero_point = 2}, shape, storage, axis);
}

}  // namespace

void convert_quantize_linear(ImportContext& ctx) {
  ir::Value* x = ctx.input(0);
  if (x->type.dtype != ir::DType::f32)
    ctx.refuse("quantizes float32 tensors; '{}' is {}", x->name, ir::dtype_name(x->type.dtype));
  ir::DType storage = storage_type(ctx, std::nullopt);
  emit_quantize(ctx, x, storage, qdq_params(ctx, x->type.shape, storage));
}

void convert_dequantize_linear(ImportContext& ctx) {
  ir::Value* x = ctx.input(0);
  if (ir::is_float(x->type.dtype)) ctx.refuse("dequantizes integer tensors; '{}' is {}", x->name, ir::dtype_name(x->type.dtype));
  ir::DType storage = storage_type(ctx, x->type.dtype);
  if (storage != x->type.dtype) ctx.refuse("the zero point's type differs from '{}' ({})", x->name, ir::dtype_name(x->type.dtype));
  emit_dequantize(ctx, x, qdq_params(ctx, x->type.shape, storage), "");
}

}  // namespace qatc::frontend
