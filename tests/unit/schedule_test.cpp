// Schedule arithmetic: tiles fit the target's inner memory, and every buffer a kernel keeps on the
// stack stays within what Halide's LLVM backend puts on the stack (above it, the objects would
// call halide_malloc, which firmware does not have).
#include "codegen/schedule.h"
#include "targets/target.h"

#include <catch2/catch.hpp>

using namespace qatc;

TEST_CASE("conv tiles keep each stack buffer within 16 KiB, on every target", "[schedule]") {
  for (const targets::Target& t : targets::load_targets(QATC_SOURCE_DIR "/targets")) {
    // MobileNetV2's stride-2 depthwise 3x3 at 56x56 -> 28x28 (16 channels per block), and
    // ResNet-18's 3x3 conv at 56x56 with 64 input channels: both have tiles whose copies used to
    // exceed 16 KiB.
    for (const codegen::ConvGeometry& base : {codegen::ConvGeometry{28, 28, 56, 1, 3, 9, 2, 16},
                                             codegen::ConvGeometry{56, 56, 56, 64, 3, 9, 1, 16}}) {
      codegen::ConvGeometry g = base;
      g.lanes = codegen::vector_lanes(t, 32, g.out_cols);
      g.padded_cols = ((g.out_cols + g.lanes - 1) / g.lanes * g.lanes - 1) * g.stride_rows + 3;
      g.channels_read = g.in_channels == 1 ? g.channel_block : g.in_channels;
      const int64_t rows = codegen::conv_tile_rows(t, g);
      INFO(t.name << ": " << rows << " rows");
      REQUIRE(g.out_rows % rows == 0);
      CHECK(((rows - 1) * g.stride_rows + g.kernel_rows) * g.padded_cols * g.channels_read <= codegen::kMaxStackBuffer);
      CHECK(rows * ((g.out_cols + g.lanes - 1) / g.lanes * g.lanes) * g.channel_block * 4 <= codegen::kMaxStackBuffer);
    }
  }
}

// The dot-product conv's register block on a 32-register machine (AVX-512): no recomputed columns
// where a block of at least 10 sums allows it (ResNet-18's 56- and 7-column layers), else the
// fewest recomputed (28 columns: 4 x 5 recomputes 2, 2 x 8 recomputes 4); never wider than the
// input copy allows.
TEST_CASE("dot-product conv register blocks", "[schedule]") {
  targets::Target t;
  t.vector_registers = 32;
  auto block = [&](int64_t cols, int64_t vectors, int64_t max_columns = 64) {
    const codegen::DotConvTile b = codegen::dot_conv_tile(t, cols, vectors, max_columns);
    return std::pair{b.channel_vectors, b.columns};
  };
  CHECK(block(56, 4) == std::pair{2, 8});
  CHECK(block(7, 32) == std::pair{2, 7});
  CHECK(block(28, 8) == std::pair{4, 5});
  CHECK(block(14, 16) == std::pair{4, 5});
  CHECK(block(3, 1) == std::pair{1, 3});  // one channel vector, three columns: all there is
  t.vector_registers = 16;
  CHECK(block(56, 4) == std::pair{4, 2});  // 8 sums: all blocks tie, the first (most channels) stays
  // ResNet-18's last stage in the pair form: a 16-bit copy of 512 channels fits 3 columns at most.
  CHECK(block(7, 64) == std::pair{1, 7});
  CHECK(block(7, 64, 3) == std::pair{4, 2});
}

// The pointwise dot-product conv's pixel tile on a 16-register machine (AVX2, 8 lanes, 16-bit copy):
// the whole plane where its copy fits, with the block that computes the fewest pixels again; else
// whole blocks within the stack limit.
TEST_CASE("pointwise dot-product conv tiles", "[schedule]") {
  targets::Target t;
  t.vector_bits = 256;
  t.vector_registers = 16;
  auto tile = [&](int64_t pixels, int64_t cin4) {
    const auto b = codegen::pointwise_dot_tile(t, pixels, cin4, 2);
    REQUIRE(b);
    CHECK(b->pixel_tile * cin4 * 2 <= codegen::kMaxStackBuffer);
    return std::tuple{b->pixel_vectors, b->channel_rows, b->pixel_tile};
  };
  CHECK(tile(49, 160) == std::tuple{1, 8, 49});    // 7 x 7: 7 blocks of 8 pixels, not 4 of 16
  CHECK(tile(784, 32) == std::tuple{1, 8, 200});   // 28 x 28 within 256 pixels: 4 tiles of 25 blocks (26 x 16 = 208)
  CHECK(tile(3136, 16) == std::tuple{2, 4, 448});  // 56 x 56 within 512 pixels: 7 tiles of 28 blocks, none again
  CHECK(tile(49, 960) == std::tuple{1, 8, 8});     // 960 channels: 8 pixels fit
  CHECK_FALSE(codegen::pointwise_dot_tile(t, 4, 16, 2));  // less than a vector of pixels
}
