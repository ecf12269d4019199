// ONNX TensorProto <-> ir::TensorData, and the backend-test `.pb` tensor files.
#pragma once

#include "ir/tensor_data.h"

#include <onnx/onnx_pb.h>

#include <string>

namespace qatc::frontend {

// The ir element type of an ONNX TensorProto data type; throws Error naming `what` if unsupported.
ir::DType dtype_from_onnx(int onnx_type, const std::string& what);
int dtype_to_onnx(ir::DType t);
std::string_view onnx_type_name(int onnx_type);

// What a TensorProto's header alone can refuse, naming `what`: external data (qatc never reads a
// file a model names), segments, an unsupported element type, a size beyond ir::limits(). Returns
// the element type.
ir::DType check_tensor_header(const onnx::TensorProto& t, const std::string& what);
// Converts tensor data; throws Error naming the tensor for bad sizes, external data or unknown types.
ir::TensorData tensor_from_proto(const onnx::TensorProto& t);
onnx::TensorProto tensor_to_proto(const ir::TensorData& d, const std::string& name);

struct NamedTensor {
  std::string name;
  ir::TensorData data;
};
NamedTensor read_tensor_file(const std::string& path);
// Written to a temporary file and renamed, so a failure leaves no partial file.
void write_tensor_file(const std::string& path, const ir::TensorData& d, const std::string& name);

}  // namespace qatc::frontend
