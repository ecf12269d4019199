// ONNX model -> qatc IR. Loads with libonnx, runs its checker and shape inference, and converts
// every node; anything qatc cannot represent exactly is refused naming the node.
#pragma once

#include "frontend/ti_pact2.h"
#include "ir/graph.h"

#include <map>
#include <string>

namespace qatc::frontend {

struct ModelInfo {
  std::string producer_name;
  std::string producer_version;
  int64_t ir_version = 0;
  int64_t opset = 0;  // of the default (ai.onnx) domain
  // "pytorch-qdq", "onnx-qdq", "mct", "ti-pact2" or "float" (no quantization found).
  std::string dialect;
  // False when the model's opset is newer than the installed libonnx knows: its checker and
  // shape inference were skipped and only qatc's own checks ran.
  bool onnx_checked = false;
};

struct ImportOptions {
  // Shapes for graph inputs with dynamic dimensions (--input-shape NAME=1x3x224x224). A dynamic
  // batch dimension defaults to 1; any other dynamic dimension must be given here.
  std::map<std::string, ir::Shape> input_shapes;
  // Graph inputs given fixed values: they become constants (as if they were initializers). ONNX's
  // backend node tests feed parameters such as scales, shapes and axes as inputs.
  std::map<std::string, ir::TensorData> frozen_inputs;
  // "auto" detects the dialect; "ti-pact2" reads a float graph as a TI v1 PACT2 export even where
  // the detection would not (--qat-dialect).
  std::string qat_dialect = "auto";
  TiPact2Options ti;
};

struct ImportedModel {
  ir::Graph graph;
  ModelInfo info;
};

ImportedModel import_onnx(const std::string& path, const ImportOptions& options = {});
// The same from a serialized ModelProto; `name` stands for the file in messages (and names the
// graph when the model does not).
ImportedModel import_onnx_bytes(const std::string& bytes, const std::string& name, const ImportOptions& options = {});

}  // namespace qatc::frontend
