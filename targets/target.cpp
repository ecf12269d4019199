#include "targets/target.h"

#include "frontend/file_io.h"
#include "ir/error.h"

#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace qatc::targets {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Reads fields of one description with errors that name the file and the field.
class Reader {
 public:
  Reader(std::string file, const json& j) : file_(std::move(file)), j_(j) {}

  [[noreturn]] void error(const std::string& field, const std::string& what) const {
    fail("{}: {}: {}", file_, field, what);
  }
  const json& at(const json& obj, const std::string& field) const {
    if (!obj.is_object() || !obj.contains(field)) error(field, "is missing");
    return obj.at(field);
  }
  std::string string(const json& obj, const std::string& field) const {
    const json& v = at(obj, field);
    if (!v.is_string()) error(field, "must be a string");
    return v.get<std::string>();
  }
  bool is_auto(const json& obj, const std::string& field) const {
    const json& v = at(obj, field);
    return v.is_string() && v.get<std::string>() == "auto";
  }
  // An integer in [lo, hi]: bounds per field keep the cost model's products and the int fields of
  // Target from overflowing (a clock above INT_MAX once wrapped into negative cycles).
  int64_t integer(const json& obj, const std::string& field, int64_t lo, int64_t hi) const {
    const json& v = at(obj, field);
    // An unsigned JSON number above INT64_MAX would wrap in get<int64_t>().
    if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(hi)) ||
        v.get<int64_t>() < lo || v.get<int64_t>() > hi)
      error(field, fmt::format("must be an integer from {} to {}", lo, hi));
    return v.get<int64_t>();
  }
  const json& root() const { return j_; }

 private:
  std::string file_;
  const json& j_;
};

// Target files nest three levels deep; nlohmann::json copies and compares recursively, so a hostile
// file nested 100,000 levels deep would overflow the stack. The parser is iterative: refuse the
// nesting while parsing, before anything recursive sees the value.
constexpr int kMaxJsonDepth = 16;

json parse_json(const std::string& path) {
  const auto bounded = [&](int depth, json::parse_event_t, json&) {
    if (depth > kMaxJsonDepth) fail("{}: nested deeper than {} levels", path, kMaxJsonDepth);
    return true;
  };
  try {
    return json::parse(frontend::read_file(path, size_t{1} << 20), bounded);
  } catch (const json::parse_error& e) {
    fail("{}: not valid JSON: {}", path, e.what());
  }
}

// "auto" figures of this machine.
int host_vector_bits() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return 512;
  if (__builtin_cpu_supports("avx2")) return 256;
  return 128;
}

// AVX-512 VNNI's vpdpbusd sums 4 u8 x s8 products per int32 lane.
int host_int8_dot_product() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512vnni") ? 4 : 0;
}

// pmaddwd (SSE2, so every x86-64) sums 2 products of 16-bit operands per int32 lane.
int host_int16_pair_product() {
#if defined(__x86_64__)
  return 2;
#else
  return 0;
#endif
}

// pmaddubsw sums 2 u8 x s8 products per saturating int16 lane; qatc's kernels use it with AVX2.
int host_int8_saturating_pair_product() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") ? 2 : 0;
}

int host_vector_registers() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") ? 32 : 16;
}

int64_t host_cache_bytes(const std::string& level) {
  long v = level == "L1D" ? sysconf(_SC_LEVEL1_DCACHE_SIZE)
           : level == "L2" ? sysconf(_SC_LEVEL2_CACHE_SIZE)
           : level == "L3" ? sysconf(_SC_LEVEL3_CACHE_SIZE)
                           : -1;
  return v > 0 ? v : 0;
}

int64_t host_clock_hz() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("cpu MHz", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) return static_cast<int64_t>(std::stod(line.substr(colon + 1)) * 1e6);
    }
  return 0;  // unknown
}

}  // namespace

std::string default_targets_dir() {
  if (const char* env = std::getenv("QATC_TARGETS_DIR"); env && *env) return env;
  // Installed (cmake --install): <prefix>/bin/qatc reads <prefix>/share/qatc/targets.
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const std::filesystem::path installed = exe.parent_path().parent_path() / QATC_INSTALLED_TARGETS_DIR;
    if (std::filesystem::is_directory(installed, ec)) return installed.string();
  }
  return QATC_TARGETS_DIR;  // the source tree, for the build tree's binaries
}

Target load_target(const std::string& path) {
  const json j = parse_json(path);
  Reader r(path, j);
  const json& root = r.root();
  Target t;
  t.name = r.string(root, "name");
  if (t.name != fs::path(path).stem().string()) r.error("name", "must match the file name ('" + fs::path(path).stem().string() + "')");
  t.description = r.string(root, "description");
  // Bounds: what real machines have, with room to spare; each keeps the cost model in range.
  t.vector_bits = r.is_auto(root, "vector_bits") ? host_vector_bits() : static_cast<int>(r.integer(root, "vector_bits", 64, 2048));
  if (!std::has_single_bit(static_cast<unsigned>(t.vector_bits))) r.error("vector_bits", "must be a power of two");
  if (root.contains("matrix_unit")) {
    const json& m = root.at("matrix_unit");
    t.matrix_unit = {static_cast<int>(r.integer(m, "rows", 1, 4096)), static_cast<int>(r.integer(m, "cols", 1, 4096)),
                     r.integer(m, "int8_macs_per_cycle", 1, int64_t{1} << 24)};
  }
  const json& acc = r.at(root, "accumulator_bits");
  t.accumulator_bits_int8 = static_cast<int>(r.integer(acc, "int8", 32, 64));
  t.accumulator_bits_int16 = static_cast<int>(r.integer(acc, "int16", 32, 64));
  for (int bits : {t.accumulator_bits_int8, t.accumulator_bits_int16})
    if (bits != 32 && bits != 64) r.error("accumulator_bits", "widths must be 32 or 64");
  const json& memory = r.at(root, "memory");
  if (!memory.is_array() || memory.empty()) r.error("memory", "must be a non-empty list of levels");
  for (const json& level : memory) {
    MemoryLevel m{r.string(level, "name"), 0};
    m.bytes = r.is_auto(level, "bytes") ? host_cache_bytes(m.name) : r.integer(level, "bytes", 1, int64_t{1} << 40);
    if (level.contains("bytes_per_cycle")) m.bytes_per_cycle = r.integer(level, "bytes_per_cycle", 1, int64_t{1} << 20);
    if (m.bytes == 0) continue;  // an "auto" level this machine does not report
    if (!t.memory.empty() && m.bytes <= t.memory.back().bytes)
      r.error("memory", "levels must grow from the nearest: " + m.name + " is not larger than " + t.memory.back().name);
    t.memory.push_back(std::move(m));
  }
  t.clock_hz = r.is_auto(root, "clock_hz") ? host_clock_hz() : r.integer(root, "clock_hz", 1000, int64_t{100'000'000'000});
  if (root.contains("int8_dot_product")) {
    t.int8_dot_product = r.is_auto(root, "int8_dot_product") ? host_int8_dot_product()
                                                             : static_cast<int>(r.integer(root, "int8_dot_product", 1, 64));
    if (t.int8_dot_product != 0 && t.int8_dot_product != 4) r.error("int8_dot_product", "must be 4 (products per int32 lane)");
  }
  if (root.contains("int16_pair_product")) {
    t.int16_pair_product = r.is_auto(root, "int16_pair_product") ? host_int16_pair_product()
                                                                 : static_cast<int>(r.integer(root, "int16_pair_product", 0, 64));
    if (t.int16_pair_product != 0 && t.int16_pair_product != 2) r.error("int16_pair_product", "must be 2 (products per int32 lane)");
  }
  if (root.contains("int8_saturating_pair_product")) {
    t.int8_saturating_pair_product = r.is_auto(root, "int8_saturating_pair_product")
                                         ? host_int8_saturating_pair_product()
                                         : static_cast<int>(r.integer(root, "int8_saturating_pair_product", 0, 64));
    if (t.int8_saturating_pair_product != 0 && t.int8_saturating_pair_product != 2)
      r.error("int8_saturating_pair_product", "must be 2 (products per int16 lane)");
  }
  if (root.contains("vector_registers"))
    t.vector_registers = r.is_auto(root, "vector_registers") ? host_vector_registers()
                                                             : static_cast<int>(r.integer(root, "vector_registers", 1, 256));
  if (root.contains("activation_layout")) {
    t.activation_layout = r.string(root, "activation_layout");
    if (t.activation_layout != "planar" && t.activation_layout != "nhwc")
      r.error("activation_layout", "must be \"planar\" or \"nhwc\"");
  }
  const json& emit = r.at(root, "emit");
  if (!emit.is_array() || emit.empty()) r.error("emit", "must list at least one of \"c\", \"asm\", \"object\"");
  for (const json& e : emit) {
    if (!e.is_string() || (e != "c" && e != "asm" && e != "object")) r.error("emit", "entries are \"c\", \"asm\" or \"object\"");
    t.emit.push_back(e.get<std::string>());
  }
  return t;
}

std::vector<Target> load_targets(const std::string& dir) {
  std::error_code ec;
  const fs::file_status status = fs::status(dir, ec);
  if (ec && ec != std::errc::no_such_file_or_directory) fail("{}: target directory: {}", dir, ec.message());
  if (!fs::is_directory(status)) fail("{}: no such target directory", dir);
  std::vector<std::string> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".json") files.push_back(it->path().string());
  if (ec) fail("{}: cannot read the target directory: {}", dir, ec.message());
  std::sort(files.begin(), files.end());
  if (files.empty()) fail("{}: holds no target descriptions (*.json)", dir);
  std::vector<Target> targets;
  for (const auto& f : files) targets.push_back(load_target(f));
  return targets;
}

const Target& find_target(const std::vector<Target>& targets, const std::string& name) {
  for (const Target& t : targets)
    if (t.name == name) return t;
  std::vector<std::string> names;
  for (const Target& t : targets) names.push_back(t.name);
  fail("unknown target '{}' (known: {})", name, fmt::join(names, ", "));
}

}  // namespace qatc::targets
