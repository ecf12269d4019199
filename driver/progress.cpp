#include "driver/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace qatc::driver {

ProgressBar::ProgressBar(std::string task, bool enabled) : task_(std::move(task)), enabled_(enabled && ::isatty(2)) {}

ProgressBar::~ProgressBar() { clear(); }

void ProgressBar::clear() {
  if (enabled_ && width_) std::fprintf(stderr, "\r%*s\r", static_cast<int>(width_), "");
  width_ = 0;
}

void ProgressBar::update(size_t done, size_t total, std::string_view label) {
  if (!enabled_ || total == 0) return;
  constexpr size_t kBar = 30;
  const size_t filled = done * kBar / total;
  std::string bar(filled, '=');
  if (filled < kBar) bar += '>';
  bar.resize(kBar, ' ');
  std::string line = fmt::format("{} [{}] {}/{} {}", task_, bar, done, total, label.substr(0, 40));
  const size_t width = line.size();
  if (width < width_) line.append(width_ - width, ' ');  // cover a longer previous line
  width_ = std::max(width_, width);
  std::fprintf(stderr, "\r%s", line.c_str());
  std::fflush(stderr);
}

}  // namespace qatc::driver
