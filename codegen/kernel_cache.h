// Generated kernel files kept between compiles, keyed by the kernel's signature, the Halide
// version and a stamp of the generator sources: a recompile of an unchanged kernel skips Halide.
#pragma once

#include "codegen/kernel_spec.h"

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace qatc::codegen {

class KernelCache {
 public:
  // An empty directory disables the cache.
  explicit KernelCache(std::filesystem::path dir) : dir_(std::move(dir)) {}

  // The artifact (`kind`: "cpp", "s", "o") of `spec`: from the cache, or made by `make` and stored.
  std::string get(const KernelSpec& spec, const std::string& kind, const std::function<std::string()>& make);
  int hits() const { return hits_; }
  int misses() const { return misses_; }
  const std::filesystem::path& dir() const { return dir_; }

  // $QATC_KERNEL_CACHE, else $XDG_CACHE_HOME/qatc/kernels, else ~/.cache/qatc/kernels.
  static std::filesystem::path default_dir();

 private:
  std::filesystem::path dir_;
  int hits_ = 0, misses_ = 0;
};

}  // namespace qatc::codegen
