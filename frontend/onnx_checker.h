// libonnx's checker and shape inference, run on an untrusted model in a child process with CPU-time
// and address-space limits (support/child_process.h). Debian's libonnx 1.12 crashes, hangs or
// exhausts memory on crafted models (a schema-driven probe found about 20 distinct faults in its
// inference code and tensor parser); in the child, any of these becomes a one-line refusal that
// names the stage and, for a crash, the node it happened on.
#pragma once

#include <onnx/onnx_pb.h>

#include <string>

namespace qatc::frontend {

// Runs onnx::checker::check_model, then shape inference, and stores the inferred value_info (and
// output types) in `m`. `path` names the model in messages; `opset` is its default-domain opset.
void check_with_onnx_isolated(onnx::ModelProto& m, const std::string& path, int64_t opset);

}  // namespace qatc::frontend
