// A one-line progress bar on stderr for long runs (kernel generation, verify over many data sets):
// drawn only when stderr is a terminal, so logs, pipes and CI output never see it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace qatc::driver {

class ProgressBar {
 public:
  // `enabled` is further limited to a terminal on stderr (--quiet passes false).
  ProgressBar(std::string task, bool enabled);
  ~ProgressBar();  // clears the line
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // "task [=====>     ] done/total label", redrawn in place.
  void update(size_t done, size_t total, std::string_view label);
  // Erases the bar, before the caller prints a line of its own (the next update redraws it).
  void clear();

 private:
  std::string task_;
  bool enabled_;
  size_t width_ = 0;  // of the last line drawn, to clear it
};

}  // namespace qatc::driver
