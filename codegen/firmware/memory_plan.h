// Static memory for the firmware: every intermediate tensor gets an offset in one scratch arena,
// tensors whose lifetimes do not overlap share bytes. Inputs and outputs live in the caller's
// buffers; a reshape is a view of its operand's bytes.
#pragma once

#include "codegen/kernel_plan.h"

#include <map>
#include <vector>

namespace qatc::codegen {

// Where a runtime tensor's bytes are.
struct Storage {
  enum class Kind : uint8_t { input, output, arena } kind = Kind::arena;
  int index = 0;       // input/output number
  int64_t offset = 0;  // arena offset in bytes
};

struct MemoryPlan {
  static constexpr int64_t kAlignment = 64;  // every arena buffer starts on a 512-bit vector boundary
  std::map<const ir::Value*, Storage> storage;
  // Outputs that alias an input or another output are copied there after the last step.
  std::vector<std::pair<int, const ir::Value*>> output_copies;
  int64_t arena_bytes = 0;
  // Sum of the (aligned) arena tensors live at the busiest step: no plan can use less. The planner
  // searches until it reaches it (it does on every model tested, ResNet-18 and MobileNetV2 at
  // 224x224 included); `qatc compile` and report.json give both.
  int64_t peak_live_bytes = 0;
};

MemoryPlan plan_memory(const KernelPlan& plan);

// One arena buffer: its size and the steps [first, last] in which it is live.
struct LiveRange {
  int64_t bytes, first, last;
};
// The most bytes live at one step: no packing can use less.
int64_t peak_live_bytes(const std::vector<LiveRange>& ranges);
// Offsets for `ranges` (in their order) such that buffers live at a common step do not overlap;
// returns the arena size. Deterministic for a given input.
int64_t pack_live_ranges(const std::vector<LiveRange>& ranges, std::vector<int64_t>& offsets);

}  // namespace qatc::codegen
