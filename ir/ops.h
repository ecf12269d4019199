// The op set, described as data: each op's operand count, attributes, and shape/type rules.
// Float ops are also the integer ops: with integer operands conv and matmul accumulate in i32/i64,
// elementwise ops work on one integer type (docs/ir.md lists the integer semantics).
#pragma once

#include "ir/dtype.h"

#include <optional>
#include <string_view>
#include <vector>

namespace qatc::ir {

struct Op;

enum class OpKind : uint8_t {
  conv,        // x, w [, bias]        N-d convolution, NC... layout, grouped; integer: minus x_zero_point
  matmul,      // a, b                 numpy matmul with batch broadcasting
  batchnorm,   // x, scale, bias, mean, var   inference-mode batch normalization
  add,         // a, b                 numpy broadcasting elementwise ops
  sub,
  mul,
  div,
  relu,        // x
  clip,        // x                    min/max attributes (absent = unbounded)
  // Float-only activations: the lowering turns a region using them into a lut.
  leaky_relu,  // x                    x < 0 ? alpha·x : x
  elu,         // x                    x < 0 ? alpha·(e^x − 1) : x
  sigmoid,     // x                    1 / (1 + e^−x)
  tanh,        // x
  erf,         // x
  exp,         // x
  log,         // x                    natural logarithm (not finite at x <= 0)
  softplus,    // x                    ln(1 + e^x)
  concat,      // x...                 along axis
  maxpool,     // x
  avgpool,     // x                    count_include_pad selects the divisor at borders
  pad,         // x                    constant / reflect / edge
  resize,      // x                    nearest neighbour
  reshape,     // x                    to the static `shape`
  transpose,   // x                    by `perm`
  slice,       // x                    elements starts[d] + i·steps[d], i < shape[d], on every axis d
  quantize,    // x (float) -> integer tensor with quant params; `round` attribute
  dequantize,  // x (quantized integer) -> float
  // Integer-only ops of the lowered graph (docs/ir.md gives their exact semantics).
  requantize,  // acc [, bias]  rounding shift (or Q31 multiply) to a quantized type, saturated
  widen,       // x               (x - zero_point) * 2^shift in a wider integer type
  lut,         // x, table        table[x - min(x's type)]: a constant table of 2^bits entries
};

enum class AttrKind : uint8_t { int_, float_, string_, ints, floats };

struct AttrSpec {
  std::string_view name;
  AttrKind kind;
  bool required;
};

struct OpInfo {
  OpKind kind;
  std::string_view name;
  int min_inputs;
  int max_inputs;  // -1: variadic
  std::vector<AttrSpec> attrs;
  // The output shape from the operand types and attributes; throws Error naming the op.
  Shape (*infer_shape)(const Op& op);
  // Checks operand and result element types and quant params; throws Error naming the op.
  void (*check_types)(const Op& op);
};

const OpInfo& op_info(OpKind kind);
std::optional<OpKind> parse_op_kind(std::string_view name);
std::vector<OpKind> all_op_kinds();

// The float-only activations, leaky_relu to softplus: no integer op computes them, and the lowering
// turns a region using them into a lut. All but leaky_relu are transcendental: irrational at every
// rational but a few points, so the exact evaluator encloses their values (sim/qat/enclosure.h).
bool is_activation_function(OpKind kind);
bool is_transcendental(OpKind kind);

// Shape rules shared with the evaluators (shape_inference.cpp).
Shape broadcast_shapes(const Shape& a, const Shape& b, const Op& op);
// Output length of a sliding window: conv and pooling.
int64_t window_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad_begin, int64_t pad_end,
                           int64_t dilation, bool ceil_mode);
// Whether ceil mode's last window along an axis would start past the input, in the end padding:
// window_output_size drops it (PyTorch's rule; ONNX 1.12's shape inference keeps it).
bool ceil_window_dropped(int64_t in, int64_t kernel, int64_t stride, int64_t pad_begin, int64_t pad_end, int64_t dilation);

}  // namespace qatc::ir
