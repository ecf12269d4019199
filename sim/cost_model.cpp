#include "sim/cost_model.h"

#include "ir/error.h"

#include <algorithm>

namespace qatc::sim {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

LayerCost estimate_layer(const targets::Target& t, const LayerWork& w) {
  if (t.memory.empty()) fail("target '{}': the cost model needs at least one memory level", t.name);
  LayerCost c;
  const int64_t lanes8 = std::max(1, t.vector_lanes(8)), lanes32 = std::max(1, t.vector_lanes(32));

  // Compute.
  const int64_t vector_cycles = ceil_div(std::max<int64_t>(w.macs, w.results * w.ops_per_result), lanes8);
  c.compute_cycles = vector_cycles;
  const targets::MatrixUnit& mma = t.matrix_unit;
  if (w.reduction > 0 && mma.rows > 0 && mma.int8_macs_per_cycle > 0) {
    const double utilization = static_cast<double>(w.reduction) / static_cast<double>(ceil_div(w.reduction, mma.rows) * mma.rows) *
                               static_cast<double>(w.out_channels) / static_cast<double>(ceil_div(w.out_channels, mma.cols) * mma.cols);
    const auto matrix_cycles = static_cast<int64_t>(static_cast<double>(w.macs) / (static_cast<double>(mma.int8_macs_per_cycle) * utilization));
    if (matrix_cycles < vector_cycles) {
      c.compute_cycles = matrix_cycles;
      c.matrix_utilization = utilization;
    }
  }
  if (w.requantized) c.requantize_cycles = ceil_div(w.results * 4, lanes32);

  // Memory: the nearest level sees everything; activations live in the smallest outer level that
  // holds the layer's input and output; weights in the outermost.
  const size_t levels = t.memory.size(), outer = levels - 1;
  const int64_t panels = w.reduction > 0 && mma.cols > 0 ? ceil_div(w.out_channels, mma.cols) : 1;
  const int64_t input_reads = w.input_bytes * (w.input_bytes * 2 > t.memory.front().bytes ? panels : 1);
  size_t home = std::min<size_t>(1, outer);
  while (home < outer && t.memory[home].bytes < w.input_bytes + w.output_bytes) ++home;
  std::vector<int64_t> bytes(levels, 0);
  bytes[0] += input_reads + w.output_bytes + w.weight_bytes;
  if (home != 0) bytes[home] += input_reads + w.output_bytes;
  if (outer != 0) bytes[outer] += w.weight_bytes;
  c.bound = "compute";
  for (size_t i = 0; i < levels; ++i) {
    const int64_t bandwidth = t.memory[i].bytes_per_cycle > 0 ? t.memory[i].bytes_per_cycle : lanes8;
    const int64_t cycles = ceil_div(bytes[i], bandwidth);
    c.traffic.push_back({t.memory[i].name, bytes[i], cycles});
    if (cycles > c.memory_cycles) c.memory_cycles = cycles;
    if (cycles > c.compute_cycles && cycles == c.memory_cycles) c.bound = t.memory[i].name;
  }
  c.cycles = std::max(c.compute_cycles, c.memory_cycles) + c.requantize_cycles;
  return c;
}

}  // namespace qatc::sim
