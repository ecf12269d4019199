#include "codegen/pair_order.h"

#include <algorithm>
#include <cstring>
#include <set>

namespace qatc::codegen {

using K = ir::OpKind;

bool sums_byte_pairs(const targets::Target& t, int64_t channels) {
  return t.int8_dot_product != 4 && t.int8_saturating_pair_product == 2 && channels >= 8 && channels % 4 == 0;
}

BytePairChoice choose_byte_pairs(const ir::TensorData& w, int lanes, int64_t input_stride) {
  const ir::Shape& s = w.shape();
  const int64_t cin = s[1], taps = s[2] * s[3];
  const double steps = static_cast<double>(cin * taps) / 4, vectors = static_cast<double>((s[0] + lanes - 1) / lanes);
  const double gathered = 3.5 * static_cast<double>(cin * input_stride) / vectors;
  BytePairChoice best{std::nullopt, 1.33 * steps};
  for (bool match : {false, true}) {
    if (match && steps + gathered >= best.cost) break;  // the gather alone costs more: no matching to search
    SaturatingPairWeights candidate =
        split_saturating_pairs(w, lanes, match ? pair_channels({&w}, lanes) : identity_order(cin));
    double entries = 0;  // per vector, on average (the kernel runs each list to its own length)
    for (int32_t n : candidate.lengths.as<int32_t>()) entries += n;
    const double cost = steps + 3.0 * entries / vectors + (match ? gathered : 0.0);
    if (cost < best.cost) best = {std::move(candidate), cost};
  }
  return best;
}

ir::TensorData permute_channels(const ir::TensorData& data, const std::vector<int32_t>& order, int axis) {
  const ir::Shape& s = data.shape();
  int64_t outer = 1, inner = static_cast<int64_t>(ir::byte_size(data.dtype()));
  for (int d = 0; d < axis; ++d) outer *= s[static_cast<size_t>(d)];
  for (size_t d = static_cast<size_t>(axis) + 1; d < s.size(); ++d) inner *= s[d];
  const int64_t channels = s[static_cast<size_t>(axis)];
  ir::TensorData out(data.dtype(), s);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t stored = 0; stored < channels; ++stored)
      std::memcpy(out.mutable_bytes().data() + (o * channels + stored) * inner,
                  data.bytes().data() + (o * channels + order[static_cast<size_t>(stored)]) * inner, static_cast<size_t>(inner));
  return out;
}

namespace {

// The groups of runtime tensors that must share a channel order, as a union-find over values.
class OrderGroups {
 public:
  explicit OrderGroups(const ir::Graph& g) {
    for (const ir::Value* v : g.inputs()) pin(v);
    for (const ir::Value* v : g.outputs()) pin(v);
    for (const ir::Op* op : g.ops()) link(*op);
  }

  const ir::Value* root(const ir::Value* v) {
    auto it = parent_.try_emplace(v, v).first;
    if (it->second == v) return v;
    return it->second = root(it->second);
  }
  bool pinned(const ir::Value* v) { return pinned_.count(root(v)) != 0; }
  // The tensors of each group, by root.
  std::map<const ir::Value*, std::vector<const ir::Value*>> groups() {
    std::map<const ir::Value*, std::vector<const ir::Value*>> out;
    for (const ir::Value* v : values_) out[root(v)].push_back(v);
    return out;
  }

 private:
  void pin(const ir::Value* v) {
    values_.push_back(v);
    pinned_.insert(root(v));
  }
  void unite(const ir::Value* a, const ir::Value* b) {
    values_.insert(values_.end(), {a, b});
    const ir::Value *ra = root(a), *rb = root(b);
    if (ra == rb) return;
    parent_[rb] = ra;
    if (pinned_.count(rb)) pinned_.insert(ra);
  }
  void pin_all(const ir::Op& op) {
    for (const ir::Value* v : op.inputs)
      if (!v->is_constant()) pin(v);
    for (const ir::Value* v : op.outputs) pin(v);
  }
  static bool constant(const ir::Op& op, size_t i) { return op.inputs.size() <= i || op.inputs[i]->is_constant(); }

  void link(const ir::Op& op) {
    const ir::Value* x = op.inputs.empty() ? nullptr : op.inputs[0];
    const ir::Value* y = op.outputs.empty() ? nullptr : op.outputs[0];
    switch (op.kind) {
      case K::conv:  // input and result each take their order into the weights (columns, rows)
        if (op.get_int("group") != 1 || x->is_constant() || !constant(op, 1) || !constant(op, 2)) pin_all(op);
        values_.insert(values_.end(), {x, y});
        return;
      case K::matmul:  // the first operand's order into the constant's rows; the result keeps its own
        if (x->is_constant() || !constant(op, 1) || x->type.shape.size() != 2 || op.inputs[1]->type.shape.size() != 2) pin(x);
        pin(y);
        values_.push_back(x);
        return;
      case K::requantize:  // per-tensor, or per channel (its parameters follow the order)
        if (op.has("multiplier") || !constant(op, 1) || (op.get_int("axis") != -1 && op.get_int("axis") != 1)) return pin_all(op);
        return unite(x, y);
      case K::widen:
      case K::relu:
      case K::clip:
      case K::maxpool:
      case K::avgpool:
      case K::lut:
        if (x->is_constant()) return pin_all(op);
        return unite(x, y);
      case K::add:
        if (op.inputs[0]->is_constant() || op.inputs[1]->is_constant() || op.inputs[0]->type.shape != y->type.shape ||
            op.inputs[1]->type.shape != y->type.shape)
          return pin_all(op);
        unite(op.inputs[0], y);
        return unite(op.inputs[1], y);
      case K::reshape: {  // [N, C, 1, 1] -> [N, C] (a global pool flattened): the channels stay on axis 1
        const ir::Shape &in = x->type.shape, &out = y->type.shape;
        if (in.size() == 4 && out.size() == 2 && in[0] == out[0] && in[1] == out[1] && in[2] == 1 && in[3] == 1) return unite(x, y);
        return pin_all(op);
      }
      default:
        return pin_all(op);
    }
  }

  std::map<const ir::Value*, const ir::Value*> parent_;
  std::set<const ir::Value*> pinned_;
  std::vector<const ir::Value*> values_;
};

// What a group's order changes for one conv that reads it and may sum byte pairs.
struct PairReader {
  const ir::TensorData* weights;
  int64_t input_stride;
  double work;  // output vectors x pixels: the cost model's unit
};

}  // namespace

ChannelOrders plan_channel_orders(const ir::Graph& g, const targets::Target& t) {
  ChannelOrders orders;
  const int lanes = t.vector_lanes(32);
  OrderGroups groups(g);
  std::map<const ir::Value*, std::vector<PairReader>> readers;  // by group root
  for (const ir::Op* op : g.ops()) {
    if (op->kind != K::conv || groups.pinned(op->inputs[0])) continue;
    const ir::Value &x = *op->inputs[0], &y = *op->outputs[0];
    const ir::TensorData& w = *op->inputs[1]->data;
    const ir::Shape& ws = w.shape();
    // The dense convs kernel_plan.cpp's dot conv may sum in byte pairs (pointwise ones excepted).
    if (ws.size() != 4 || ws[2] * ws[3] == 1 || w.dtype() != ir::DType::i8 || (x.type.dtype != ir::DType::u8 && x.type.dtype != ir::DType::i8) ||
        y.type.dtype != ir::DType::i32 || !sums_byte_pairs(t, ws[1]))
      continue;
    const std::vector<int64_t>& strides = op->get_ints("strides");
    const double work = static_cast<double>((ws[0] + lanes - 1) / lanes * y.type.shape[2] * y.type.shape[3]);
    readers[groups.root(&x)].push_back({&w, strides[0] * strides[1], work});
  }
  for (auto& [root, members] : groups.groups()) {
    auto it = readers.find(root);
    if (it == readers.end()) continue;  // no conv that may sum byte pairs reads it (none reads a pinned group)
    std::vector<const ir::TensorData*> weights;
    for (const PairReader& r : it->second) weights.push_back(r.weights);
    std::vector<int32_t> order = pair_channels(weights, lanes);
    if (std::is_sorted(order.begin(), order.end())) continue;
    double as_they_come = 0, paired = 0;
    for (const PairReader& r : it->second) {
      as_they_come += r.work * choose_byte_pairs(*r.weights, lanes, r.input_stride).cost;
      paired += r.work * choose_byte_pairs(permute_channels(*r.weights, order, 1), lanes, r.input_stride).cost;
    }
    if (paired >= as_they_come) continue;
    for (const ir::Value* v : members) orders[v] = order;
  }
  return orders;
}

}  // namespace qatc::codegen
