// The ONNX backend-test data layout: DIR/test_data_set_N/{input_K.pb, output_K.pb}, where any
// file may be a NumPy .npy instead (input_K.npy).
#pragma once

#include "ir/graph.h"
#include "ir/tensor_data.h"

#include <string>
#include <vector>

namespace qatc::driver {

struct DataSet {
  std::string dir;                         // path of test_data_set_N
  std::vector<ir::TensorData> inputs;      // input_0.pb (or .npy), input_1.pb, ... in order
  std::vector<ir::TensorData> expected;    // output_K.pb (or .npy), empty when the set has none
};

// Reads every test_data_set_N below `dir`, ordered by N. Each set must hold one input file per
// graph input, matching its element type and shape; refuses (Error) naming the file otherwise.
std::vector<DataSet> read_data_sets(const std::string& dir, const ir::Graph& graph);

}  // namespace qatc::driver
