// The lowered integer graph as a sequence of kernel calls: which ops fuse into one kernel (a conv
// or matmul with the requantize that reads it), the KernelSpec of each call, and the constant
// arrays the calls read, already arranged into the layout the kernels' schedules read. Everything
// between the graph's boundary quantize/dequantize ops is compiled; anything else is refused by name.
#pragma once

#include "codegen/kernel_spec.h"
#include "ir/graph.h"
#include "sim/cost_model.h"
#include "targets/target.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace qatc::codegen {

struct ConstArray {
  std::string what;  // "weights of conv '/conv1/Conv'", for comments in the weights file
  ir::TensorData data;
};

// A kernel argument: a runtime tensor of the graph, or a constant array of the plan.
struct Arg {
  const ir::Value* value = nullptr;
  int constant = -1;  // index into KernelPlan::constants when value is null
};

struct Step {
  std::string layer;  // the ONNX node(s) it computes, for comments and the report
  KernelSpec spec;
  std::vector<Arg> args;  // spec.args without the result
  const ir::Value* result = nullptr;
  bool alias = false;  // reshape: the result is its operand's bytes; no kernel runs
  int64_t macs = 0;
};

// The largest byte extent the generated code indexes: Halide buffers use int32 indices and strides
// on every target, and the firmware's scratch arena offsets are held to the same width.
constexpr int64_t kMaxKernelIndex = INT32_MAX;

struct KernelPlan {
  std::string target;  // the target's name, for messages
  std::vector<const ir::Value*> inputs;   // the integer tensors the firmware is given
  std::vector<std::string> input_rounding;  // the rule that quantized each from a float ("" if none)
  std::vector<const ir::Value*> float_inputs;  // the graph input each was quantized from (null if none)
  std::vector<const ir::Value*> outputs;  // the integer tensors it produces
  // The real value of each input/output element is (q - zp) * scale; both are here for the API.
  std::vector<ConstArray> constants;
  std::vector<Step> steps;
  // Tensors between kernels whose channels (axis 1) are stored in another order, so that the
  // channels the convs reading them sum in pairs are adjacent (pair_order.h): stored channel s
  // holds channel order[s]. Never an input or output.
  std::map<const ir::Value*, std::vector<int32_t>> channel_orders;
};

// Which code generator the plan's weights are arranged for where the two read them best in
// different orders: Halide's LLVM backend (host objects and assembly; the C kernels of such a plan
// still compute the same, rearranging the weights as they go) or the C backend alone. Only the
// dot-product conv's weights differ (kernel_plan.cpp's plan_dot_conv).
enum class WeightsFor { llvm, c };

// Throws Error naming the op or tensor for anything code generation does not support. `layout`: of
// the tensors between kernels where activation_layout.h's rule allows it, planar elsewhere.
KernelPlan plan_kernels(const ir::Graph& g, const targets::Target& target, Layout layout = Layout::planar,
                        WeightsFor weights = WeightsFor::llvm);

// Runtime tensors that are not planar.
using Layouts = std::map<const ir::Value*, Layout>;

// Bytes of a runtime tensor.
int64_t bytes_of(const ir::Value& v);

// What step `s` asks of the target, for the cost model (sim/cost_model.h): its MACs and matrix
// shape, results, bytes read and written. Reshape views ask nothing.
sim::LayerWork layer_work(const KernelPlan& plan, const Step& s);

}  // namespace qatc::codegen
