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

// Runs f(i) for every element i < n of an elementwise kernel, naming the element in a NumericError
// (a lookup table reports the input code it was building).
template <class F>
void for_each_element(size_t n, F&& f) {
  size_t i = 0;
  try {
    for (; i < n; ++i) f(i);
  } catch (const NumericError& e) {
    throw NumericError("element " + std::to_string(i) + ": " + e.what());
  }
}

}  // namespace qatc::sim
