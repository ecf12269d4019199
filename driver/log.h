// --verbose: what each step of a command did and how long it took, on stderr (stdout keeps the
// command's result, so -v never changes what a script parses).
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <utility>

namespace qatc::driver {

bool& verbose();

template <typename... Args>
void note(fmt::format_string<Args...> format, Args&&... args) {
  if (verbose()) fmt::print(stderr, "qatc: {}\n", fmt::format(format, std::forward<Args>(args)...));
}

// Milliseconds since construction, for notes.
class Stopwatch {
 public:
  double ms() const { return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace qatc::driver
