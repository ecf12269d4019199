// What an op converter sees while importing one ONNX node: its operands as IR values or constant
// data, its attributes with defaults, and ways to emit IR ops. Internal to frontend/.
#pragma once

#include "ir/error.h"
#include "ir/graph.h"

#include <onnx/onnx_pb.h>

#include <unordered_map>

namespace qatc::frontend {

// "node 'conv1' (Conv, domain ai.onnx, opset 13)", or "node producing 'y' (...)" when unnamed.
std::string describe_node(const onnx::NodeProto& node, int64_t opset);

class ImportContext {
 public:
  ImportContext(ir::Graph& graph, int64_t opset, std::string producer = {})
      : graph_(graph), opset_(opset), producer_(std::move(producer)) {}

  ir::Graph& graph() { return graph_; }
  int64_t opset() const { return opset_; }
  // The model's producer_name ("pytorch", ...): some exporters' ops say what their framework computed
  // only up to float32 rounding of their attributes (HardSigmoid's alpha = float32(1/6)).
  const std::string& producer() const { return producer_; }

  // --- whole-graph bookkeeping (used by the import loop)
  void add_initializer(const std::string& name, ir::TensorData data);
  void bind(const std::string& onnx_name, ir::Value* v);
  ir::Value* lookup(const std::string& onnx_name);  // null if unknown; materializes constants
  void begin_node(const onnx::NodeProto& node) { node_ = &node; }
  std::string describe_node() const;
  // Static shapes the model declares for its tensors (value_info, graph outputs), as exported.
  void declare_shape(const std::string& onnx_name, ir::Shape shape) { declared_[onnx_name] = std::move(shape); }
  std::optional<ir::Shape> declared_shape(const std::string& onnx_name) const;
  // Where qatc's shape rules knowingly differ from another tool's: added to a later refusal, whose
  // shape mismatch they may explain.
  void add_shape_note(std::string note) { shape_notes_.push_back(std::move(note)); }
  const std::vector<std::string>& shape_notes() const { return shape_notes_; }

  // --- refusing
  template <typename... Args>
  [[noreturn]] void refuse(fmt::format_string<Args...> format, Args&&... args) const {
    fail("{}: {}", describe_node(), fmt::format(format, std::forward<Args>(args)...));
  }

  // --- operands (optional operands may be absent or named "")
  bool has_input(int i) const;
  ir::Value* input(int i);
  // Constant data of operand i, or null when it is computed at run time.
  const ir::TensorData* constant_input(int i) const;
  const ir::TensorData& require_constant(int i, std::string_view what) const;
  std::vector<int64_t> constant_ints(int i, std::string_view what) const;
  // A float32 scalar (shape [] or [1]) operand, widened exactly.
  double constant_scalar(int i, std::string_view what) const;

  // --- attributes
  const onnx::AttributeProto* attr(const std::string& name) const;
  int64_t attr_int(const std::string& name, int64_t fallback) const;
  double attr_float(const std::string& name, double fallback) const;
  std::string attr_string(const std::string& name, const std::string& fallback) const;
  std::vector<int64_t> attr_ints(const std::string& name, std::vector<int64_t> fallback) const;
  std::vector<double> attr_floats(const std::string& name) const;

  // --- emitting. The result type is inferred (dtype: `dtype` or operand 0's); the last op of a
  // node takes the node's output name, helper ops take "<output>/<suffix>".
  ir::Value* emit(ir::OpKind kind, std::vector<ir::Value*> inputs, std::map<std::string, ir::AttrValue> attrs = {},
                  std::string suffix = "", std::optional<ir::TensorType> type = std::nullopt);
  ir::Value* add_constant(const std::string& suffix, ir::TensorData data);
  // Binds the node's output 0 (Identity, no-op reshapes).
  void alias_output(ir::Value* v) { bind(node_->output(0), v); }
  void bind_constant_output(ir::TensorData data);

  const onnx::NodeProto& node() const { return *node_; }

 private:
  // Adds op to g with its result shape inferred and its types checked, or refuses naming the node.
  ir::Op* add_checked_op(ir::Graph& g, ir::OpKind kind, std::vector<ir::Value*> inputs,
                         std::map<std::string, ir::AttrValue> attrs, const std::string& out_name,
                         const ir::TensorType& type);

  ir::Graph& graph_;
  int64_t opset_;
  std::string producer_;
  const onnx::NodeProto* node_ = nullptr;
  std::unordered_map<std::string, ir::Value*> values_;
  std::unordered_map<std::string, ir::TensorData> constants_;  // initializers and Constant outputs
  std::unordered_map<std::string, ir::Shape> declared_;
  std::vector<std::string> shape_notes_;
};

// Normalizes a possibly negative axis for a tensor of `rank`, or refuses.
int64_t normalize_axis(const ImportContext& ctx, int64_t axis, size_t rank);

}  // namespace qatc::frontend
