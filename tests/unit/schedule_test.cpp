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
