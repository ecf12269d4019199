#include "ir/graph.h"

#include "ir/error.h"

#include <algorithm>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace qatc::ir {

std::string Op::describe() const {
  std::string s(info().name);
  if (!name.empty()) s += " '" + name + "'";
  else if (!outputs.empty()) s += " producing '" + outputs[0]->name + "'";
  return s;
}

namespace {
template <typename T>
const T& get_attr(const Op& op, const std::string& attr, std::string_view kind) {
  auto it = op.attrs.find(attr);
  if (it == op.attrs.end()) fail("{}: missing attribute '{}'", op.describe(), attr);
  const T* v = std::get_if<T>(&it->second);
  if (!v) fail("{}: attribute '{}' must be {}", op.describe(), attr, kind);
  return *v;
}
}  // namespace

int64_t Op::get_int(const std::string& attr) const { return get_attr<int64_t>(*this, attr, "an integer"); }
double Op::get_float(const std::string& attr) const {
  auto it = attrs.find(attr);
  if (it != attrs.end())
    if (const int64_t* i = std::get_if<int64_t>(&it->second)) return static_cast<double>(*i);
  return get_attr<double>(*this, attr, "a float");
}
const std::string& Op::get_string(const std::string& attr) const {
  return get_attr<std::string>(*this, attr, "a string");
}
const std::vector<int64_t>& Op::get_ints(const std::string& attr) const {
  return get_attr<std::vector<int64_t>>(*this, attr, "a list of integers");
}
const std::vector<double>& Op::get_floats(const std::string& attr) const {
  return get_attr<std::vector<double>>(*this, attr, "a list of floats");
}

Value* Graph::new_value(std::string name, TensorType type) {
  if (by_name_.count(name)) fail("tensor '{}' is defined twice", name);
  auto v = std::make_unique<Value>();
  v->name = std::move(name);
  v->type = std::move(type);
  Value* raw = v.get();
  by_name_[raw->name] = raw;
  values_.push_back(std::move(v));
  return raw;
}

Value* Graph::add_input(std::string name, TensorType type) {
  Value* v = new_value(std::move(name), std::move(type));
  inputs_.push_back(v);
  return v;
}

Value* Graph::add_constant(std::string name, TensorData data, std::optional<QuantParams> quant) {
  TensorType type{data.dtype(), data.shape(), std::move(quant)};
  Value* v = new_value(std::move(name), std::move(type));
  v->data = std::move(data);
  return v;
}

Op* Graph::add_op(OpKind kind, std::vector<Value*> inputs, std::vector<std::pair<std::string, TensorType>> outputs,
                  std::map<std::string, AttrValue> attrs, std::string op_name) {
  auto op = std::make_unique<Op>();
  op->kind = kind;
  op->name = std::move(op_name);
  op->inputs = std::move(inputs);
  op->attrs = std::move(attrs);
  for (auto& [name, type] : outputs) {
    Value* v = new_value(std::move(name), std::move(type));
    v->producer = op.get();
    op->outputs.push_back(v);
  }
  Op* raw = op.get();
  ops_.push_back(std::move(op));
  return raw;
}

std::vector<Op*> Graph::ops() const {
  std::vector<Op*> out;
  out.reserve(ops_.size());
  for (const auto& op : ops_) out.push_back(op.get());
  return out;
}

std::vector<Value*> Graph::constants() const {
  std::vector<Value*> out;
  for (const auto& v : values_)
    if (v->is_constant()) out.push_back(v.get());
  return out;
}

Value* Graph::find_value(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

bool Graph::is_output(const Value* v) const { return std::find(outputs_.begin(), outputs_.end(), v) != outputs_.end(); }

std::string Graph::unique_name(const std::string& base) const {
  if (!by_name_.count(base)) return base;
  for (int i = 1;; ++i)
    if (std::string name = base + "." + std::to_string(i); !by_name_.count(name)) return name;
}

std::vector<Op*> Graph::users(const Value* v) const {
  std::vector<Op*> out;
  for (const auto& op : ops_)
    if (std::find(op->inputs.begin(), op->inputs.end(), v) != op->inputs.end()) out.push_back(op.get());
  return out;
}

void Graph::replace_all_uses(Value* from, Value* to) {
  for (auto& op : ops_) std::replace(op->inputs.begin(), op->inputs.end(), from, to);
  std::replace(outputs_.begin(), outputs_.end(), from, to);
}

void Graph::rename(Value* v, std::string name) {
  if (name == v->name) return;
  if (by_name_.count(name)) fail("tensor '{}' is defined twice", name);
  by_name_.erase(v->name);
  v->name = std::move(name);
  by_name_[v->name] = v;
}

void Graph::erase_op(Op* op) {
  auto it = std::find_if(ops_.begin(), ops_.end(), [&](const auto& p) { return p.get() == op; });
  if (it == ops_.end()) return;
  const std::unique_ptr<Op> dead = std::move(*it);
  ops_.erase(it);
  // What erase_unused_values would remove now, found without rescanning the graph (passes erase
  // ops one at a time, and a rescan each made lowering quadratic in the graph's size): its results
  // and its operands that nothing produces (constants, results of ops erased before) once unused.
  // A result still read (by an op about to be erased too) stays until its last reader goes.
  auto drop_if_unused = [&](Value* v) {
    if (v->producer || is_output(v) || std::find(inputs_.begin(), inputs_.end(), v) != inputs_.end() || !users(v).empty())
      return;
    by_name_.erase(v->name);
    values_.erase(std::find_if(values_.begin(), values_.end(), [&](const auto& p) { return p.get() == v; }));
  };
  for (Value* out : dead->outputs) {
    out->producer = nullptr;
    drop_if_unused(out);
  }
  for (size_t i = 0; i < dead->inputs.size(); ++i) {
    Value* in = dead->inputs[i];
    const auto before = dead->inputs.begin() + static_cast<std::ptrdiff_t>(i);
    if (in && std::find(dead->inputs.begin(), before, in) == before) drop_if_unused(in);  // once per operand
  }
}

void Graph::erase_unused_values() {
  std::unordered_set<const Value*> used(inputs_.begin(), inputs_.end());
  used.insert(outputs_.begin(), outputs_.end());
  for (const auto& op : ops_) {
    used.insert(op->inputs.begin(), op->inputs.end());
    used.insert(op->outputs.begin(), op->outputs.end());
  }
  std::erase_if(values_, [&](const std::unique_ptr<Value>& v) {
    if (used.count(v.get())) return false;
    by_name_.erase(v->name);
    return true;
  });
}

void Graph::sort_topologically() {
  std::unordered_map<const Value*, Op*> producer;
  for (const auto& op : ops_)
    for (Value* out : op->outputs) producer[out] = op.get();
  // Depth-first post-order, visiting ops in their current order so a sorted graph is unchanged.
  std::unordered_map<const Op*, int> state;  // 1 = on stack, 2 = done
  std::vector<Op*> order;
  std::vector<std::pair<Op*, size_t>> stack;
  for (const auto& root : ops_) {
    if (state[root.get()]) continue;
    stack.push_back({root.get(), 0});
    state[root.get()] = 1;
    while (!stack.empty()) {
      auto& [op, next] = stack.back();
      if (next < op->inputs.size()) {
        auto it = producer.find(op->inputs[next++]);
        if (it == producer.end()) continue;
        Op* dep = it->second;
        if (state[dep] == 1) fail("{}: the graph has a cycle through this op", dep->describe());
        if (state[dep] == 0) {
          state[dep] = 1;
          stack.push_back({dep, 0});
        }
        continue;
      }
      state[op] = 2;
      order.push_back(op);
      stack.pop_back();
    }
  }
  std::unordered_map<const Op*, size_t> rank;
  for (size_t i = 0; i < order.size(); ++i) rank[order[i]] = i;
  std::sort(ops_.begin(), ops_.end(), [&](const auto& a, const auto& b) { return rank[a.get()] < rank[b.get()]; });
}

}  // namespace qatc::ir
