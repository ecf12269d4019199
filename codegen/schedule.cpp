#include "codegen/schedule.h"

#include <algorithm>
#include <tuple>

namespace qatc::codegen {

namespace {

// Half of the innermost memory level (L1D), where a tile's working set stays.
int64_t first_level_budget(const targets::Target& t) { return t.memory.empty() ? int64_t{1} << 15 : t.memory.front().bytes / 2; }

// Half of the second memory level (L2), where the C schedules keep their larger working sets.
int64_t second_level_budget(const targets::Target& t) { return t.memory.size() < 2 ? int64_t{1} << 19 : t.memory[1].bytes / 2; }

int64_t floor_power_of_two(int64_t v) {
  int64_t p = 1;
  while (p * 2 <= v) p *= 2;
  return p;
}

}  // namespace

int vector_lanes(const targets::Target& t, int element_bits, int64_t extent) {
  return static_cast<int>(floor_power_of_two(std::max<int64_t>(1, std::min<int64_t>(t.vector_lanes(element_bits), extent))));
}

int conv_channel_block(const targets::Target& t, int64_t out_channels, bool channels_last) {
  int64_t want = channels_last ? t.vector_lanes(16) : t.matrix_unit.cols > 0 ? t.matrix_unit.cols : t.vector_lanes(32);
  int64_t block = floor_power_of_two(std::max<int64_t>(1, want));
  while (block > 1 && out_channels % block != 0) block /= 2;
  return static_cast<int>(block);
}

DotConvTile dot_conv_tile(const targets::Target& t, int64_t out_cols, int64_t channel_vectors_total, int64_t max_columns) {
  const int accumulators = t.vector_registers >= 32 ? 20 : 8;
  DotConvTile best{1, 1};
  std::tuple<bool, double, int64_t> best_rank{false, 0.0, 0};
  for (int cv : {4, 2, 1}) {
    if (channel_vectors_total % cv != 0) continue;
    const int64_t columns = std::min<int64_t>({accumulators / cv, out_cols, 8, max_columns});
    // Enough independent sums; the share of computed columns not recomputed; the block's size.
    const std::tuple<bool, double, int64_t> rank{
        cv * columns >= accumulators / 2,
        static_cast<double>(out_cols) / static_cast<double>(round_up(out_cols, columns)), cv * columns};
    if (rank > best_rank) {
      best_rank = rank;
      best = {cv, static_cast<int>(columns)};
    }
  }
  return best;
}

std::optional<PointwiseDotTile> pointwise_dot_tile(const targets::Target& t, int64_t pixels, int64_t cin4, int64_t element_bytes) {
  const int lanes = t.vector_lanes(32);
  // 8 output channels x 2 pixel vectors = 16 accumulators of 32 registers (room for the pixel
  // vectors and a broadcast), 16 x 1; half that with 16 registers (AVX2, MobileNetV2's 1x1 convs
  // on a Zen 3: 12.7 ms with 16 accumulators, 9.9 ms with 8).
  const int accumulators = t.vector_registers >= 32 ? 16 : 8;
  const int64_t fits = std::min(kMaxStackBuffer / (cin4 * element_bytes), pixels);
  std::optional<PointwiseDotTile> best;
  int64_t best_computed = 0;
  for (int vectors : {2, 1}) {
    const int64_t block = int64_t{lanes} * vectors;
    // The whole plane where it fits (its last block shifted inwards), else as few tiles as fit,
    // each of whole blocks, as even as they go (784 pixels within 256: 4 tiles of 200).
    const int64_t tile = fits == pixels ? pixels : std::min(fits / block * block, round_up(ceil_div(pixels, ceil_div(pixels, fits)), block));
    if (tile < block) continue;
    // Pixels computed, counting those the shifted-in last tile and block compute again: a 7 x 7
    // plane is 4 blocks of 16 pixels or 7 of 8.
    const int64_t computed = ceil_div(pixels, tile) * round_up(tile, block);
    if (!best || computed < best_computed) {
      best = PointwiseDotTile{vectors, accumulators / vectors, tile};
      best_computed = computed;
    }
  }
  return best;
}

int64_t c_dot_granule(const targets::Target& t, int64_t element_bytes) {
  return element_bytes == 1 ? 16 : std::max<int64_t>(1, t.vector_bits / 8 / element_bytes);
}

PointwiseCLoop pointwise_c_loop(const targets::Target& t, int64_t pixels, int64_t cin, int64_t element_bytes) {
  const int64_t granule = c_dot_granule(t, element_bytes);
  if (cin < granule) return {0, std::min<int64_t>(256, pixels)};
  const int64_t channels = round_up(cin, granule);
  const int64_t budget = first_level_budget(t) / element_bytes;
  return {channels, std::min(pixels, std::clamp<int64_t>(budget / channels / 16 * 16, 16, 256))};
}

int64_t conv_tile_rows(const targets::Target& t, const ConvGeometry& g) {
  const int64_t budget = first_level_budget(t);
  const int64_t weights = g.channel_block * g.in_channels * g.kernel_volume;
  int64_t best = 0;
  for (int64_t rows = 1; rows <= g.out_rows; ++rows) {
    if (g.out_rows % rows != 0) continue;
    const int64_t input_rows = (rows - 1) * g.stride_rows + g.kernel_rows;
    const int64_t working_set = input_rows * g.in_cols * g.in_channels + weights + rows * g.out_cols * g.channel_block * 4;
    const int64_t padded_bytes = input_rows * g.padded_cols * g.channels_read;
    const int64_t acc_bytes = rows * round_up(g.out_cols, g.lanes) * g.channel_block * g.acc_bytes;
    if (padded_bytes > kMaxStackBuffer || acc_bytes > kMaxStackBuffer) continue;
    if (best == 0 || working_set <= budget) best = rows;
  }
  return best;
}

bool c_plane_fits(const targets::Target& t, int64_t largest, int64_t total) {
  return largest <= kMaxStackBuffer && total <= second_level_budget(t);
}

int64_t dot_conv_c_tile_rows(const targets::Target& t, const ConvGeometry& g) {
  const int64_t budget = second_level_budget(t);
  int64_t best = 1;
  for (int64_t rows = 1; rows <= g.out_rows; ++rows)
    if (g.out_rows % rows == 0 && ((rows - 1) * g.stride_rows + g.kernel_rows) * g.padded_cols * g.channels_read <= budget) best = rows;
  return best;
}

}  // namespace qatc::codegen
