// Resource limits on what a model may ask for, checked before anything is allocated: a hostile
// model (a 10^12-element tensor, a million nodes) is refused in one line, not run out of memory.
// The driver's --max-tensor-bytes and --max-nodes raise them for a run.
#pragma once

#include "ir/dtype.h"

#include <cstdint>
#include <string>

namespace qatc::ir {

struct Limits {
  int64_t max_tensor_bytes = int64_t{1} << 30;  // 1 GiB: any one tensor, constant or computed
  int64_t max_nodes = 100000;                   // nodes of an imported graph
  int64_t max_import_seconds = 60;              // CPU time for libonnx's checker, and for its shape inference
};

// The limits in force (one set per process; the driver sets them from its flags).
Limits& limits();

// The element count of a `dtype` tensor of `shape`, or a refusal naming `what` when a dimension is
// negative or the tensor would exceed max_tensor_bytes (checked without overflowing).
int64_t checked_num_elements(const Shape& shape, DType dtype, const std::string& what);

}  // namespace qatc::ir
