// The qatc IR: a graph of typed tensor values and ops in topological order. The same IR holds the
// imported float/fake-quant graph and, after lowering, the integer graph (docs/ir.md).
#pragma once

#include "ir/dtype.h"
#include "ir/ops.h"
#include "ir/quant.h"
#include "ir/tensor_data.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace qatc::ir {

struct TensorType {
  DType dtype = DType::f32;
  Shape shape;
  std::optional<QuantParams> quant;  // set on quantized integer tensors

  bool operator==(const TensorType&) const = default;
};

struct Op;

struct Value {
  std::string name;
  TensorType type;
  Op* producer = nullptr;           // null for graph inputs and constants
  std::optional<TensorData> data;   // set for constants

  bool is_constant() const { return data.has_value(); }
};

using AttrValue = std::variant<int64_t, double, std::string, std::vector<int64_t>, std::vector<double>>;

struct Op {
  OpKind kind;
  std::string name;  // where it came from (ONNX node name); may be empty
  std::vector<Value*> inputs;
  std::vector<Value*> outputs;
  std::map<std::string, AttrValue> attrs;  // ordered: printing is deterministic

  const OpInfo& info() const { return op_info(kind); }
  // "conv '/layer1/conv/Conv'" for error messages.
  std::string describe() const;

  bool has(const std::string& attr) const { return attrs.count(attr) != 0; }
  int64_t get_int(const std::string& attr) const;
  double get_float(const std::string& attr) const;  // also accepts an int attribute
  const std::string& get_string(const std::string& attr) const;
  const std::vector<int64_t>& get_ints(const std::string& attr) const;
  const std::vector<double>& get_floats(const std::string& attr) const;
};

class Graph {
 public:
  std::string name = "model";

  Value* add_input(std::string name, TensorType type);
  Value* add_constant(std::string name, TensorData data, std::optional<QuantParams> quant = std::nullopt);
  // Creates the op and its output values (named as given), appended at the end of the op list.
  Op* add_op(OpKind kind, std::vector<Value*> inputs, std::vector<std::pair<std::string, TensorType>> outputs,
             std::map<std::string, AttrValue> attrs = {}, std::string op_name = "");
  void add_output(Value* v) { outputs_.push_back(v); }

  const std::vector<Value*>& inputs() const { return inputs_; }
  const std::vector<Value*>& outputs() const { return outputs_; }
  std::vector<Op*> ops() const;
  std::vector<Value*> constants() const;

  Value* find_value(const std::string& name) const;  // null if absent
  bool is_output(const Value* v) const;
  // A name no value has yet: `base` itself if free, else `base.1`, `base.2`, ... (for values a pass creates).
  std::string unique_name(const std::string& base) const;
  // Ops reading v, in op order (an op reading v twice is listed once).
  std::vector<Op*> users(const Value* v) const;

  // Rewiring, for passes and the importer.
  void replace_all_uses(Value* from, Value* to);
  // Gives v a name no other value has (Error otherwise): a replacement value can take over the
  // name of the value it replaces, so graph outputs and readers of the IR keep their names.
  void rename(Value* v, std::string name);
  void erase_op(Op* op);                 // its outputs must be unused
  void erase_unused_values();            // constants and dead op outputs nobody reads
  // Reorders the op list topologically; throws Error naming an op on a cycle.
  void sort_topologically();

 private:
  Value* new_value(std::string name, TensorType type);

  std::vector<std::unique_ptr<Value>> values_;
  std::vector<std::unique_ptr<Op>> ops_;
  std::vector<Value*> inputs_;
  std::vector<Value*> outputs_;
  std::map<std::string, Value*> by_name_;
};

}  // namespace qatc::ir
