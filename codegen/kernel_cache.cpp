#include "codegen/kernel_cache.h"

#include "codegen/halide/emit.h"
#include "frontend/file_io.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

namespace qatc::codegen {

namespace {

// A stamp of the generator sources, computed by CMake: any edit to a generator invalidates entries.
#ifndef QATC_GENERATOR_STAMP
#error "QATC_GENERATOR_STAMP must be defined by the build"
#endif

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// The artifact's length and digest, stored after the key: a truncated or altered body (a full disk,
// a killed copy, a hand edit) no longer matches and is regenerated. This guards against accidents,
// not an adversary: whoever can write an entry can write a matching digest beside it, whatever the
// hash, so a cryptographic one would buy nothing here and FNV-1a with the length suffices.
std::string body_stamp(std::string_view body) { return fmt::format("{} {:016x}\n", body.size(), fnv1a(body)); }

}  // namespace

std::filesystem::path KernelCache::default_dir() {
  if (const char* d = std::getenv("QATC_KERNEL_CACHE"); d && *d) return d;
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d && *d) return std::filesystem::path(d) / "qatc" / "kernels";
  if (const char* d = std::getenv("HOME"); d && *d) return std::filesystem::path(d) / ".cache" / "qatc" / "kernels";
  return {};
}

// An entry is one file, written atomically (a rename): the key text's length on the first line,
// the key text, the artifact's stamp (body_stamp) on a line, then the artifact. Concurrent compiles
// sharing the cache may write the same entry at once; a reader sees one writer's whole file or
// none, never a key beside another's artifact.
std::string KernelCache::get(const KernelSpec& spec, const std::string& kind, const std::function<std::string()>& make) {
  if (dir_.empty()) {
    ++misses_;
    return make();
  }
  // The key text is stored in the entry and compared, so a hash collision is a miss, not a wrong kernel.
  // Host artifacts ("s", "o") are for this CPU's features only: another CPU must not read them.
  const std::string cpu = kind == "cpp" ? "" : host_code_signature();
  const std::string key =
      fmt::format("{}\n{}\n{}\n{}\n{}\n", spec.signature(), kind, halide_version(), QATC_GENERATOR_STAMP, cpu);
  const std::string header = fmt::format("{}\n{}", key.size(), key);
  const std::filesystem::path entry = dir_ / fmt::format("{}-{:016x}.{}", spec.name(), fnv1a(key), kind);
  std::error_code ec;
  if (std::filesystem::exists(entry, ec)) {
    try {
      const std::string contents = frontend::read_file(entry.string());
      if (contents.starts_with(header)) {
        const std::string_view rest = std::string_view(contents).substr(header.size());
        const size_t stamp_end = rest.find('\n');
        const std::string_view body = rest.substr(std::min(stamp_end + 1, rest.size()));
        if (stamp_end != std::string_view::npos && rest.substr(0, stamp_end + 1) == body_stamp(body)) {
          ++hits_;
          return std::string(body);
        }
      }
    } catch (const std::exception&) {  // unreadable entry: regenerate it
    }
  }
  ++misses_;
  std::string contents = make();
  // A cache that cannot be written only costs time: the compile goes on.
  try {
    std::filesystem::create_directories(dir_);
    frontend::write_file_atomically(entry.string(), header + body_stamp(contents) + contents);
  } catch (const std::exception&) {
  }
  return contents;
}

}  // namespace qatc::codegen
