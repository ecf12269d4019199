// Quantization parameters given as a node's (scale, zero point) operands, and the quantize and
// dequantize ops that use them: shared by QuantizeLinear/DequantizeLinear and the QOperator ops
// (QLinearConv, QLinearMatMul), which carry their operands' parameters the same way.
// Implemented in convert_quant.cpp.
#pragma once

#include "frontend/import_context.h"

namespace qatc::frontend {

// Operand indices of a scale (float32, constant) and its zero point (constant, optional: 0).
struct QuantOperands {
  int scale;
  int zero_point;
};

// The parameters of a tensor of `shape` stored as `storage`. A per-tensor scale has shape [] or
// [1]; a longer 1-D scale applies along `axis`, and is refused when there is no axis.
ir::QuantParams read_quant_params(ImportContext& ctx, QuantOperands operands, const ir::Shape& shape,
                                  ir::DType storage, std::optional<int64_t> axis);

// quantize(x) to `storage` with parameters `q`, as the node's result.
ir::Value* emit_quantize(ImportContext& ctx, ir::Value* x, ir::DType storage, ir::QuantParams q);

// dequantize(x) with parameters `q`. A constant or a graph input takes `q` as its own (pre-quantized
// weights, an integer model input); any other tensor must already carry `q` from the quantize op
// that produced it.
ir::Value* emit_dequantize(ImportContext& ctx, ir::Value* x, ir::QuantParams q, const std::string& suffix);

}  // namespace qatc::frontend
