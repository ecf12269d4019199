// qatc targets: the target descriptions and their figures.
#include "driver/commands.h"
#include "targets/target.h"

#include <fmt/format.h>

#include <iostream>

namespace qatc::driver {

namespace {

std::string bytes_text(int64_t b) {
  if (b % (int64_t{1} << 30) == 0) return fmt::format("{} GiB", b >> 30);
  if (b % (int64_t{1} << 20) == 0) return fmt::format("{} MiB", b >> 20);
  if (b % 1024 == 0) return fmt::format("{} KiB", b >> 10);
  return fmt::format("{} B", b);
}

std::string clock_text(int64_t hz) {
  if (hz == 0) return "unknown";
  return hz % 1000000000 == 0 ? fmt::format("{} GHz", hz / 1000000000) : fmt::format("{:.2f} GHz", hz / 1e9);
}

int list_targets(const std::string& dir) {
  std::vector<targets::Target> all = targets::load_targets(dir);
  std::cout << fmt::format("{:<9} {:>6}  {:<14} {:<22} {:<12} {:<12} {:<45} {:<9} {:<7} {}\n", "target", "vector", "lanes i8/16/32",
                           "matrix unit", "int8 dot", "accumulator", "memory", "clock", "layout", "emits");
  for (const auto& t : all) {
    std::vector<std::string> levels;
    for (const auto& m : t.memory) levels.push_back(m.name + " " + bytes_text(m.bytes));
    std::string mma = t.matrix_unit.rows ? fmt::format("{}x{}, {} MAC/cycle", t.matrix_unit.rows, t.matrix_unit.cols,
                                                       t.matrix_unit.int8_macs_per_cycle)
                                         : "none";
    std::cout << fmt::format("{:<9} {:>4} b  {:<14} {:<22} {:<12} {:<12} {:<45} {:<9} {:<7} {}\n", t.name, t.vector_bits,
                             fmt::format("{}/{}/{}", t.vector_lanes(8), t.vector_lanes(16), t.vector_lanes(32)), mma,
                             t.int8_dot_product     ? fmt::format("{} per lane", t.int8_dot_product)
                             : t.int8_saturating_pair_product ? "byte pairs"
                             : t.int16_pair_product ? "16-bit pairs"
                                                    : "none",
                             fmt::format("{}/{} bit", t.accumulator_bits_int8, t.accumulator_bits_int16),
                             fmt::format("{}", fmt::join(levels, ", ")), clock_text(t.clock_hz), t.activation_layout,
                             fmt::join(t.emit, ", "));
  }
  for (const auto& t : all) std::cout << fmt::format("  {}: {}\n", t.name, t.description);
  return 0;
}

}  // namespace

void register_targets(CLI::App& app, Action& action) {
  auto dir = std::make_shared<std::string>(targets::default_targets_dir());
  CLI::App* cmd = app.add_subcommand("targets", "List the target descriptions and their figures");
  cmd->footer("Targets are data: targets/*.json, validated when loaded. QATC_TARGETS_DIR or --targets-dir\n"
              "points elsewhere. Example:\n  qatc targets");
  cmd->add_option("--targets-dir", *dir, "Directory of target descriptions")->capture_default_str();
  cmd->callback([&action, dir] { action = [dir] { return list_targets(*dir); }; });
}

}  // namespace qatc::driver
