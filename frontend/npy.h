// NumPy's .npy tensor files (format versions 1-3), next to the ONNX `.pb` ones: what `qatc run`
// reads as data-set inputs and expected outputs and writes as computed outputs.
#pragma once

#include "ir/tensor_data.h"

#include <string>

namespace qatc::frontend {

// Little-endian, C-order arrays of the element types qatc has (f4, f8, i1, u1, i2, u2, i4, i8).
// Anything else — Fortran order, big-endian, object arrays, a header or data that does not match
// — is refused naming the file; sizes are checked against ir::limits() before allocating.
ir::TensorData read_npy_file(const std::string& path);
// Written to a temporary file and renamed (version 1.0 header, C order).
void write_npy_file(const std::string& path, const ir::TensorData& d);

}  // namespace qatc::frontend
