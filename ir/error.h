// The one error type for bad user input (models, IR text, flags, data files).
// Its message is a single line that names the node, tensor or file at fault; the driver prints it
// and exits with status 2. Internal invariant violations are not Errors: they are bugs.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace qatc {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace qatc
