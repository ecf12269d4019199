// Writes a run's intermediate tensors to a directory, one ONNX TensorProto file each, in op order:
// NNNN_<name>.pb holds the values as computed (integers for quantized tensors), and
// NNNN_<name>.dequantized.pb their real values (q - zp) * scale as float64 (exact).
#pragma once

#include "ir/graph.h"

#include <filesystem>

namespace qatc::driver {

class TensorDump {
 public:
  explicit TensorDump(std::filesystem::path dir);  // created if absent
  void write(const ir::Value& v, const ir::TensorData& data);

 private:
  std::filesystem::path dir_;
  int next_ = 0;
};

}  // namespace qatc::driver
