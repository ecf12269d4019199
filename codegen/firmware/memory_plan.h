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
  // Sum of the (aligned) arena tensors live at the busiest step: no plan can use less, and this
  // one is never above it for the models tested (bench/ and tests/ report both).
  int64_t peak_live_bytes = 0;
};

MemoryPlan plan_memory(const KernelPlan& plan);

}  // namespace qatc::codegen
