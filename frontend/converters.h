// One function per supported ONNX operator (or family), each in the convert_*.cpp that groups it.
// The table of supported operators with their opset ranges is in onnx_import.cpp.
#pragma once

#include "frontend/import_context.h"

namespace qatc::frontend {

// convert_quant.cpp
void convert_quantize_linear(ImportContext& ctx);
void convert_dequantize_linear(ImportContext& ctx);
// convert_mct.cpp: Sony MCT's mct_quantizers domain
void convert_mct_activation_quantizer(ImportContext& ctx);
void convert_mct_weights_quantizer(ImportContext& ctx);
// convert_qoperator.cpp
void convert_conv_integer(ImportContext& ctx);
void convert_matmul_integer(ImportContext& ctx);
void convert_qlinear_conv(ImportContext& ctx);
void convert_qlinear_matmul(ImportContext& ctx);
// convert_window.cpp
void convert_conv(ImportContext& ctx);
void convert_max_pool(ImportContext& ctx);
void convert_average_pool(ImportContext& ctx);
void convert_global_average_pool(ImportContext& ctx);
void convert_global_max_pool(ImportContext& ctx);
void convert_reduce_mean(ImportContext& ctx);
// convert_math.cpp
void convert_matmul(ImportContext& ctx);
void convert_gemm(ImportContext& ctx);
void convert_batch_normalization(ImportContext& ctx);
void convert_add(ImportContext& ctx);
void convert_sub(ImportContext& ctx);
void convert_mul(ImportContext& ctx);
void convert_div(ImportContext& ctx);
void convert_relu(ImportContext& ctx);
void convert_hard_sigmoid(ImportContext& ctx);
void convert_hard_swish(ImportContext& ctx);
void convert_leaky_relu(ImportContext& ctx);
void convert_elu(ImportContext& ctx);
void convert_sigmoid(ImportContext& ctx);
void convert_tanh(ImportContext& ctx);
void convert_erf(ImportContext& ctx);
void convert_exp(ImportContext& ctx);
void convert_log(ImportContext& ctx);
void convert_softplus(ImportContext& ctx);
void convert_clip(ImportContext& ctx);
// convert_layout.cpp
void convert_identity(ImportContext& ctx);
void convert_constant(ImportContext& ctx);
void convert_flatten(ImportContext& ctx);
void convert_reshape(ImportContext& ctx);
void convert_transpose(ImportContext& ctx);
void convert_squeeze(ImportContext& ctx);
void convert_unsqueeze(ImportContext& ctx);
void convert_concat(ImportContext& ctx);
void convert_pad(ImportContext& ctx);
// convert_shape.cpp: shape arithmetic, evaluated on constants
void convert_shape(ImportContext& ctx);
void convert_gather(ImportContext& ctx);
void convert_constant_of_shape(ImportContext& ctx);
void convert_cast(ImportContext& ctx);
void convert_range(ImportContext& ctx);
void convert_expand(ImportContext& ctx);
void convert_slice(ImportContext& ctx);
void convert_split(ImportContext& ctx);  // binds every output
// Add/Sub/Mul/Div of integer constants (`x.size(1) // 2`), in 128 bits: ONNX's integer ops wrap
// around and its integer Div truncates; a result that would wrap is refused.
void fold_integer_arithmetic(ImportContext& ctx, ir::OpKind kind, const ir::TensorData& a, const ir::TensorData& b);
// convert_resize.cpp
void convert_resize(ImportContext& ctx);
void convert_upsample(ImportContext& ctx);

}  // namespace qatc::frontend
