// Raised by the number types (float32/exact/integer policies), which do not know which op they serve;
// the evaluator catches it and rethrows a qatc::Error naming the op.
#pragma once

#include <stdexcept>
#include <string>

namespace qatc::sim {

class NumericError : public std::runtime_error {
 public:
  explicit NumericError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace qatc::sim
