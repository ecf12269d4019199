// The ONNX backend-test data layout: DIR/test_data_set_N/{input_K.pb, output_K.pb}, where any
// file may be a NumPy .npy instead (input_K.npy).
#pragma once

#include "ir/graph.h"
#include "ir/tensor_data.h"

#include <optional>
#include <string>
#include <vector>

namespace qatc::driver {

struct DataSet {
  std::string dir;                         // path of test_data_set_N
  std::vector<ir::TensorData> inputs;      // input_0.pb (or .npy), input_1.pb, ... in order
  std::vector<ir::TensorData> expected;    // output_K.pb (or .npy), empty when the set has none
};

// The test_data_set_N directories below a directory, listed up front and read one at a time, so a
// command holds one set in memory however many there are.
class DataSets {
 public:
  // Lists the sets, ordered by N, reading none of their files. `graph` is the imported graph: what
  // its inputs and outputs take is kept, so it may be lowered afterwards.
  DataSets(const std::string& dir, const ir::Graph& graph);

  size_t size() const { return dirs_.size(); }
  const std::string& dir(size_t i) const { return dirs_[i]; }
  // Reads set i: one input file per graph input, and optionally one output file per graph output,
  // each of the element type and shape the model declares, checked for size before it is read.
  // NaN inputs are refused; ±Inf only reaches quantizers, which saturate it. Expected outputs must
  // be finite. Refuses (Error) naming the file.
  DataSet read(size_t i) const;

 private:
  struct Port {
    std::string name;
    ir::TensorType type;
    // Finite stand-ins for -Inf and +Inf that every quantizer reading the input saturates exactly
    // as it saturates ±Inf; absent when something else reads it.
    std::optional<std::pair<double, double>> saturating;
  };
  std::vector<std::string> dirs_;
  std::vector<Port> inputs_, outputs_;
};

}  // namespace qatc::driver
