#include "codegen/firmware/memory_plan.h"

#include <algorithm>
#include <functional>

namespace qatc::codegen {

namespace {

struct Buffer {
  const ir::Value* value;
  int64_t bytes, first, last;  // step interval [first, last] in which it is live
};

int64_t aligned(int64_t n) { return (n + MemoryPlan::kAlignment - 1) / MemoryPlan::kAlignment * MemoryPlan::kAlignment; }

// Places buffers in the given order, each at the lowest offset free during its whole lifetime
// (TFLite's greedy planner); returns the offsets and the arena size.
int64_t place(std::vector<Buffer> order, std::map<const ir::Value*, int64_t>& offsets) {
  struct Placed {
    int64_t offset, bytes, first, last;
  };
  std::vector<Placed> placed;
  int64_t arena = 0;
  for (const Buffer& b : order) {
    std::vector<std::pair<int64_t, int64_t>> busy;  // [begin, end) of overlapping lifetimes
    for (const Placed& p : placed)
      if (p.first <= b.last && b.first <= p.last) busy.emplace_back(p.offset, p.offset + p.bytes);
    std::sort(busy.begin(), busy.end());
    int64_t offset = 0;
    for (const auto& [begin, end] : busy) {
      if (offset + b.bytes <= begin) break;
      offset = std::max(offset, end);
    }
    placed.push_back({offset, b.bytes, b.first, b.last});
    offsets[b.value] = offset;
    arena = std::max(arena, offset + b.bytes);
  }
  return arena;
}

}  // namespace

MemoryPlan plan_memory(const KernelPlan& plan) {
  MemoryPlan m;
  std::map<const ir::Value*, const ir::Value*> alias_of;  // reshape result -> operand
  for (const Step& s : plan.steps)
    if (s.alias) alias_of[s.result] = s.args[0].value;
  std::function<const ir::Value*(const ir::Value*)> root = [&](const ir::Value* v) {
    auto it = alias_of.find(v);
    return it == alias_of.end() ? v : root(it->second);
  };

  for (size_t i = 0; i < plan.inputs.size(); ++i) m.storage[plan.inputs[i]] = {Storage::Kind::input, static_cast<int>(i), 0};
  for (size_t k = 0; k < plan.outputs.size(); ++k) {
    const ir::Value* r = root(plan.outputs[k]);
    if (m.storage.count(r)) m.output_copies.emplace_back(static_cast<int>(k), plan.outputs[k]);
    else m.storage[r] = {Storage::Kind::output, static_cast<int>(k), 0};
  }

  // Arena buffers: every computed root not already placed, live from its step to its last reader.
  std::map<const ir::Value*, Buffer> buffers;
  const auto steps = static_cast<int64_t>(plan.steps.size());
  for (int64_t i = 0; i < steps; ++i) {
    const Step& s = plan.steps[static_cast<size_t>(i)];
    if (!s.alias && !m.storage.count(s.result))
      buffers[s.result] = {s.result, aligned(ir::num_elements(s.result->type.shape) * static_cast<int64_t>(ir::byte_size(s.result->type.dtype))), i, i};
    for (const Arg& a : s.args)
      if (a.value)
        if (auto it = buffers.find(root(a.value)); it != buffers.end()) it->second.last = i;
  }
  for (const auto& [k, v] : m.output_copies)
    if (auto it = buffers.find(root(v)); it != buffers.end()) it->second.last = steps;

  std::vector<Buffer> list;
  for (const auto& [v, b] : buffers) list.push_back(b);
  for (int64_t t = 0; t <= steps; ++t) {
    int64_t live = 0;
    for (const Buffer& b : list) live += b.first <= t && t <= b.last ? b.bytes : 0;
    m.peak_live_bytes = std::max(m.peak_live_bytes, live);
  }
  // Two greedy orders, the smaller arena wins: largest first, and in order of definition.
  std::sort(list.begin(), list.end(), [](const Buffer& a, const Buffer& b) {
    return a.first < b.first || (a.first == b.first && a.value->name < b.value->name);
  });
  std::vector<Buffer> by_size = list;
  std::stable_sort(by_size.begin(), by_size.end(), [](const Buffer& a, const Buffer& b) { return a.bytes > b.bytes; });
  std::map<const ir::Value*, int64_t> size_offsets, order_offsets;
  const int64_t size_arena = place(by_size, size_offsets), order_arena = place(list, order_offsets);
  const auto& offsets = size_arena <= order_arena ? size_offsets : order_offsets;
  m.arena_bytes = std::min(size_arena, order_arena);
  for (const auto& [v, offset] : offsets) m.storage[v] = {Storage::Kind::arena, 0, offset};
  for (const auto& [view, operand] : alias_of) m.storage[view] = m.storage.at(root(operand));
  return m;
}

}  // namespace qatc::codegen
