// report.json: per layer MACs, bytes moved, buffer placement and a cycle estimate on the target;
// per model the arena, peak live bytes, weights and totals.
#pragma once

#include "codegen/firmware/memory_plan.h"
#include "codegen/kernel_plan.h"
#include "targets/target.h"

#include <string>

namespace qatc::codegen {

struct ReportContext {
  std::string model, source;
  const targets::Target* target = nullptr;
  int kernels = 0;  // distinct kernels (cache hits are not reported: the file must not depend on them)
};

// The estimate is a roofline: a layer takes the longer of its MACs at the target's rate (the matrix
// unit's for conv and matmul when there is one, else one int8 MAC per vector lane per cycle) and
// its bytes at one vector load per cycle. It ignores overheads; it is for comparing layers and
// targets, not a promise of board timings.
std::string report_json(const ReportContext& c, const KernelPlan& plan, const MemoryPlan& memory);

}  // namespace qatc::codegen
