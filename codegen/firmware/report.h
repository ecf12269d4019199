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

// Each layer's estimated cycles come from the cost model (sim/cost_model.h), the one `qatc
// estimate` prints: for comparing layers and targets, not a promise of board timings.
std::string report_json(const ReportContext& c, const KernelPlan& plan, const MemoryPlan& memory);

}  // namespace qatc::codegen
