// qatc's own checks of an untrusted ModelProto, run before anything else reads it (libonnx's
// checker and shape inference run later, isolated, as a second opinion): each refusal is one line
// naming the node, tensor or name at fault.
#pragma once

#include <onnx/onnx_pb.h>

#include <string>

namespace qatc::frontend {

// What qatc never imports and libonnx must never be shown: model-local functions, subgraphs
// (If/Loop/Scan bodies: none of qatc's operators has one), sparse tensors, external or segmented
// tensor data anywhere (initializers, Constant values, any attribute), and names, domains and
// attribute names that are not valid UTF-8 (they end up in JSON reports and generated C).
void check_model_contents(const onnx::ModelProto& m, int64_t opset);

// Every node input is a graph input, an initializer or an earlier node's output, and every name is
// produced once; says which rule is broken (missing, produced later, a cycle) naming the node and
// the tensor, where ONNX's checker would not.
void check_references(const onnx::ModelProto& m, int64_t opset);

// Whether `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF).
bool is_valid_utf8(std::string_view s);

}  // namespace qatc::frontend
