// The C7x-like cost model: how many cycles a kernel takes on a target, from the target
// description alone (targets/*.json). A layer is compute-bound or bound by one memory level:
//   compute:  a matrix product on the matrix unit at its MAC rate times its utilisation, the
//             reduction and output channels padded to its rows and columns (a depthwise conv's
//             short reduction leaves it mostly idle: the vector unit is used when that is faster);
//             anything else on the vector unit, one int8 lane operation per cycle per lane;
//   memory:   every byte through the nearest level (L1D), activations from the smallest outer
//             level that holds a layer's input and output, weights from the outermost (DDR);
//             the input is re-read once per output-channel panel when it does not fit half of L1D;
//             each level at its bytes per cycle (one vector per cycle where the target does not
//             say: the host's caches);
//   cycles =  max(compute, memory) + requantize (4 vector operations per int32 result).
// It ignores pipeline start-up, DMA overlap limits and instruction overheads: a lower bound
// meant for comparing layers and targets, and for placing a model next to published figures.
#pragma once

#include "targets/target.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qatc::sim {

struct LayerWork {
  int64_t macs = 0;
  int64_t reduction = 0, out_channels = 0;  // a matrix product's K and N per group (0: not a product)
  int64_t results = 0;                      // output elements
  int64_t ops_per_result = 1;               // vector operations per result of a non-product (a pool's window)
  int64_t input_bytes = 0, output_bytes = 0, weight_bytes = 0;
  bool requantized = false;                 // int32 sums requantized to the output
};

struct LevelTraffic {
  std::string level;
  int64_t bytes = 0, cycles = 0;
};

struct LayerCost {
  double matrix_utilization = 0;  // 0: not on the matrix unit
  int64_t compute_cycles = 0, memory_cycles = 0, requantize_cycles = 0, cycles = 0;
  std::string bound;              // "compute" or the memory level that limits
  std::vector<LevelTraffic> traffic;
};

LayerCost estimate_layer(const targets::Target& t, const LayerWork& w);

}  // namespace qatc::sim
