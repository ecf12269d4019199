#include "targets/target.h"

#include "frontend/file_io.h"
#include "ir/error.h"

#include <nlohmann/json.hpp>
#include <unistd.h>

#include <algorithm>
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
  Reader(std::string file, json j) : file_(std::move(file)), j_(std::move(j)) {}

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
  int64_t positive(const json& obj, const std::string& field) const {
    const json& v = at(obj, field);
    if (!v.is_number_integer() || v.get<int64_t>() <= 0) error(field, "must be a positive integer");
    return v.get<int64_t>();
  }
  const json& root() const { return j_; }

 private:
  std::string file_;
  json j_;
};

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
  json j;
  try {
    j = json::parse(frontend::read_file(path, size_t{1} << 20));
  } catch (const json::parse_error& e) {
    fail("{}: not valid JSON: {}", path, e.what());
  }
  Reader r(path, j);
  const json& root = r.root();
  Target t;
  t.name = r.string(root, "name");
  if (t.name != fs::path(path).stem().string()) r.error("name", "must match the file name ('" + fs::path(path).stem().string() + "')");
  t.description = r.string(root, "description");
  t.vector_bits = r.is_auto(root, "vector_bits") ? host_vector_bits() : static_cast<int>(r.positive(root, "vector_bits"));
  if (t.vector_bits % 64 != 0 || t.vector_bits > 2048) r.error("vector_bits", "must be a multiple of 64 up to 2048");
  if (root.contains("matrix_unit")) {
    const json& m = root.at("matrix_unit");
    t.matrix_unit = {static_cast<int>(r.positive(m, "rows")), static_cast<int>(r.positive(m, "cols")),
                     r.positive(m, "int8_macs_per_cycle")};
  }
  const json& acc = r.at(root, "accumulator_bits");
  t.accumulator_bits_int8 = static_cast<int>(r.positive(acc, "int8"));
  t.accumulator_bits_int16 = static_cast<int>(r.positive(acc, "int16"));
  for (int bits : {t.accumulator_bits_int8, t.accumulator_bits_int16})
    if (bits != 32 && bits != 64) r.error("accumulator_bits", "widths must be 32 or 64");
  const json& memory = r.at(root, "memory");
  if (!memory.is_array() || memory.empty()) r.error("memory", "must be a non-empty list of levels");
  for (const json& level : memory) {
    MemoryLevel m{r.string(level, "name"), 0};
    m.bytes = r.is_auto(level, "bytes") ? host_cache_bytes(m.name) : r.positive(level, "bytes");
    if (level.contains("bytes_per_cycle")) m.bytes_per_cycle = r.positive(level, "bytes_per_cycle");
    if (m.bytes == 0) continue;  // an "auto" level this machine does not report
    if (!t.memory.empty() && m.bytes <= t.memory.back().bytes)
      r.error("memory", "levels must grow from the nearest: " + m.name + " is not larger than " + t.memory.back().name);
    t.memory.push_back(std::move(m));
  }
  t.clock_hz = r.is_auto(root, "clock_hz") ? host_clock_hz() : r.positive(root, "clock_hz");
  if (root.contains("int8_dot_product")) {
    t.int8_dot_product = r.is_auto(root, "int8_dot_product") ? host_int8_dot_product()
                                                             : static_cast<int>(r.positive(root, "int8_dot_product"));
    if (t.int8_dot_product != 0 && t.int8_dot_product != 4) r.error("int8_dot_product", "must be 4 (products per int32 lane)");
  }
  if (root.contains("vector_registers"))
    t.vector_registers = r.is_auto(root, "vector_registers") ? host_vector_registers()
                                                             : static_cast<int>(r.positive(root, "vector_registers"));
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
