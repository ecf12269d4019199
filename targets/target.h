// Target descriptions: the figures of a machine that code generation and the cost model derive
// their schedules from (vector width, matrix unit, memory levels, clock). They live as data in
// targets/*.json and are validated when loaded; nothing about a target is hard-coded elsewhere.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qatc::targets {

struct MatrixUnit {
  int rows = 0, cols = 0;  // 0: no matrix unit
  int64_t int8_macs_per_cycle = 0;
};

struct MemoryLevel {
  std::string name;  // "L1D", "L2", ...
  int64_t bytes = 0;
  int64_t bytes_per_cycle = 0;  // bandwidth to the core, for the cost model (0: not described)
};

struct Target {
  std::string name;
  std::string description;
  int vector_bits = 0;
  MatrixUnit matrix_unit;
  int accumulator_bits_int8 = 32;   // accumulator width for 8-bit operands
  int accumulator_bits_int16 = 64;  // and for 16-bit operands
  std::vector<MemoryLevel> memory;  // nearest (smallest) first
  int64_t clock_hz = 0;
  std::vector<std::string> emit;    // "c", "asm", "object"
  // An int8 dot-product instruction: this many u8 x s8 products summed into each int32 lane
  // (AVX-512 VNNI's vpdpbusd: 4), or 0 for none. Convs then use a dot-product schedule.
  int int8_dot_product = 0;
  // A multiply-add of 16-bit pairs: 2 products of 16-bit operands summed into each int32 lane
  // (x86's pmaddwd, on every x86-64), or 0. Without an int8 dot product, dense 8-bit convs take
  // the dot-product schedule all the same: Halide's LLVM backend sums each 4 products with two of
  // these (ResNet-18 on an AVX2 Zen 3: 4x the generic conv's speed).
  int int16_pair_product = 0;
  // A multiply-add of unsigned x signed byte pairs into saturating int16 lanes (x86's pmaddubsw,
  // SSSE3; qatc uses it with AVX2), or 0. Without an int8 dot product, the LLVM kernels of dense
  // 8-bit convs sum 4 products per int32 lane with it and a pmaddwd (twice the products of one
  // pmaddwd per pair of instructions), keeping every pair sum below the saturation by the plan
  // (codegen/saturating_pairs.h: weights clamped, the difference added back exactly).
  int int8_saturating_pair_product = 0;
  int vector_registers = 16;        // how many accumulators a register-blocked kernel can hold
  // How tensors between kernels lie in memory by default (codegen/activation_layout.h): "planar"
  // or "nhwc" (channels last).
  std::string activation_layout = "planar";

  int vector_lanes(int element_bits) const { return vector_bits / element_bits; }
};

// The directory holding the shipped descriptions: QATC_TARGETS_DIR from the environment, else an
// installed qatc's <prefix>/share/qatc/targets, else the source tree's targets/.
std::string default_targets_dir();

// Loads one description; throws Error "<file>: <field>: <what is wrong>" for anything invalid.
// "auto" values (host.json) are read from this machine.
Target load_target(const std::string& path);
// Every *.json in `dir`, sorted by name; names must be unique and match their file names.
std::vector<Target> load_targets(const std::string& dir);
const Target& find_target(const std::vector<Target>& targets, const std::string& name);

}  // namespace qatc::targets
