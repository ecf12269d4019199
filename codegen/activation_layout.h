// Which runtime tensors the kernels keep channels last (NHWC) instead of in channel planes.
// The firmware's inputs and outputs stay in ONNX's planar order, and so does every tensor a
// reshape views; between convs a tensor can take either layout, and the first conv reading a
// planar tensor (or the last one writing it) converts as it copies its tile: no conversion
// kernel runs. Every kernel is correct in either layout (its buffers' strides say which), so the
// choice is about speed only: a tensor is channels last where its producer and every reader are
// kernels whose schedules read and write it that way.
#pragma once

#include "codegen/kernel_plan.h"

namespace qatc::codegen {

// The runtime tensors of `plan` that take `preferred` by the rule above (the rest are planar).
Layouts choose_layouts(const KernelPlan& plan, Layout preferred);

}  // namespace qatc::codegen
