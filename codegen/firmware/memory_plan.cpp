#include "codegen/firmware/memory_plan.h"

#include "ir/error.h"

#include <algorithm>
#include <functional>
#include <numeric>
#include <random>

namespace qatc::codegen {

namespace {

int64_t aligned(int64_t n) { return (n + MemoryPlan::kAlignment - 1) / MemoryPlan::kAlignment * MemoryPlan::kAlignment; }

bool overlap(const LiveRange& a, const LiveRange& b) { return a.first <= b.last && b.first <= a.last; }

// Places the ranges in `order` (indices), each in a gap free during its whole lifetime: the lowest
// (TFLite's greedy planner), or the tightest that fits (best fit); returns the arena size.
int64_t place(const std::vector<LiveRange>& ranges, const std::vector<size_t>& order, bool best_fit,
              std::vector<int64_t>& offsets) {
  offsets.assign(ranges.size(), -1);
  int64_t arena = 0;
  std::vector<std::pair<int64_t, int64_t>> busy;  // [begin, end) of placed, overlapping lifetimes
  for (size_t k = 0; k < order.size(); ++k) {
    const LiveRange& b = ranges[order[k]];
    busy.clear();
    for (size_t j = 0; j < k; ++j)
      if (overlap(ranges[order[j]], b)) busy.emplace_back(offsets[order[j]], offsets[order[j]] + ranges[order[j]].bytes);
    std::sort(busy.begin(), busy.end());
    // The gaps between the busy ranges, and the open space above them.
    int64_t offset = -1, gap_size = 0, cursor = 0;
    for (const auto& [begin, end] : busy) {
      if (begin - cursor >= b.bytes && (offset < 0 || (best_fit && begin - cursor < gap_size))) {
        offset = cursor;
        gap_size = begin - cursor;
      }
      cursor = std::max(cursor, end);
    }
    offsets[order[k]] = offset < 0 ? cursor : offset;
    arena = std::max(arena, offsets[order[k]] + b.bytes);
  }
  return arena;
}

}  // namespace

int64_t peak_live_bytes(const std::vector<LiveRange>& ranges) {
  int64_t peak = 0;
  for (const LiveRange& at : ranges) {  // the busiest step is some range's first step
    int64_t live = 0;
    for (const LiveRange& r : ranges) live += r.first <= at.first && at.first <= r.last ? r.bytes : 0;
    peak = std::max(peak, live);
  }
  return peak;
}

int64_t pack_live_ranges(const std::vector<LiveRange>& ranges, std::vector<int64_t>& offsets) {
  std::vector<size_t> identity(ranges.size());
  std::iota(identity.begin(), identity.end(), size_t{0});
  const auto sorted_by = [&](auto key) {
    std::vector<size_t> order = identity;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(ranges[a]) > key(ranges[b]); });
    return order;
  };
  // Greedy placement in several orders, lowest gap and tightest gap; the smallest arena wins (the
  // first of equals). Orders: as given, largest first, longest lived first, largest area first.
  const std::vector<std::vector<size_t>> orders = {
      identity, sorted_by([](const LiveRange& r) { return r.bytes; }),
      sorted_by([](const LiveRange& r) { return r.last - r.first; }),
      sorted_by([](const LiveRange& r) { return r.bytes * (r.last - r.first + 1); })};
  int64_t arena = -1;
  std::vector<int64_t> candidate_offsets;
  for (const auto& order : orders)
    for (bool best_fit : {false, true}) {
      const int64_t a = place(ranges, order, best_fit, candidate_offsets);
      if (arena < 0 || a < arena) {
        arena = a;
        offsets = candidate_offsets;
      }
    }
  // Still above the lower bound (interval packing is NP-hard; greedy orders can fragment): a local
  // search over orders, swapping two buffers at a time, from a fixed seed so that the plan is
  // deterministic. It stops at the bound.
  const int64_t bound = peak_live_bytes(ranges);
  std::vector<size_t> order = orders[1];
  std::mt19937 rng(2024);
  for (int round = 0; round < 4000 && arena > bound && order.size() > 1; ++round) {
    std::vector<size_t> candidate = order;
    std::swap(candidate[rng() % candidate.size()], candidate[rng() % candidate.size()]);
    for (bool best_fit : {false, true}) {
      const int64_t a = place(ranges, candidate, best_fit, candidate_offsets);
      if (a <= arena) {
        order = std::move(candidate);
        if (a < arena) offsets = candidate_offsets;
        arena = a;
        break;
      }
    }
  }
  return std::max<int64_t>(arena, 0);
}

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

  // Arena buffers: every computed root not already placed, live from its step to its last reader,
  // in the order they are defined.
  std::vector<const ir::Value*> values;
  std::vector<LiveRange> ranges;
  std::map<const ir::Value*, size_t> index;
  const auto steps = static_cast<int64_t>(plan.steps.size());
  for (int64_t i = 0; i < steps; ++i) {
    const Step& s = plan.steps[static_cast<size_t>(i)];
    for (const Arg& a : s.args)
      if (a.value)
        if (auto it = index.find(root(a.value)); it != index.end()) ranges[it->second].last = i;
    if (!s.alias && !m.storage.count(s.result)) {
      index[s.result] = ranges.size();
      values.push_back(s.result);
      ranges.push_back({aligned(bytes_of(*s.result)), i, i});
    }
  }
  for (const auto& [k, v] : m.output_copies)
    if (auto it = index.find(root(v)); it != index.end()) ranges[it->second].last = steps;

  m.peak_live_bytes = peak_live_bytes(ranges);
  std::vector<int64_t> offsets;
  m.arena_bytes = pack_live_ranges(ranges, offsets);
  for (size_t i = 0; i < values.size(); ++i) {
    if (offsets[i] + ranges[i].bytes > kMaxKernelIndex)
      fail("tensor '{}': its {} bytes at scratch offset {} reach beyond the {} bytes the code for target '{}' can address (32-bit)",
           values[i]->name, ranges[i].bytes, offsets[i], kMaxKernelIndex, plan.target);
    m.storage[values[i]] = {Storage::Kind::arena, 0, offsets[i]};
  }
  for (const auto& [view, operand] : alias_of) m.storage[view] = m.storage.at(root(operand));
  return m;
}

}  // namespace qatc::codegen
