// Schedule choices derived from the target description (never per model): vector lanes from the
// vector width, the output-channel block from the matrix unit, row tiles from the memory sizes.
// Pure arithmetic, so the weight arranger (which must know the layout the schedule reads) and the
// Halide generators agree without either including the other.
#pragma once

#include "targets/target.h"

#include <cstdint>
#include <optional>

namespace qatc::codegen {

// v / m rounded up, and v rounded up to a multiple of m.
constexpr int64_t ceil_div(int64_t v, int64_t m) { return (v + m - 1) / m; }
constexpr int64_t round_up(int64_t v, int64_t m) { return ceil_div(v, m) * m; }

// The largest power of two <= min(vector lanes for `element_bits`, extent), at least 1: a vector
// loop of that width never runs past a dimension of size `extent`.
int vector_lanes(const targets::Target& t, int element_bits, int64_t extent);

// Output channels computed together: the matrix unit's column count (else the int32 vector lanes),
// reduced to the largest power of two dividing `out_channels`, so blocks never straddle the end.
// Channels-last convs (the host's; conv.cpp) compute a vector of channels per pixel: the lanes of
// 16-bit products, which 8-bit operands multiply in.
int conv_channel_block(const targets::Target& t, int64_t out_channels, bool channels_last = false);

struct ConvGeometry {
  int64_t out_rows, out_cols;        // output plane (depth folded into rows)
  int64_t in_cols, in_channels;      // per group
  int64_t kernel_rows, kernel_volume;
  int64_t stride_rows;
  int64_t channel_block;
  int64_t padded_cols = 0, channels_read = 0;  // the tile's padded input copy: columns, bytes per column
  int64_t acc_bytes = 4, lanes = 1;            // accumulator element size, vector width
};

// Halide 14's LLVM backend puts a stack allocation above 16 KiB on the heap (halide_malloc), which
// firmware does not have: every tile buffer stays within this.
constexpr int64_t kMaxStackBuffer = 16 * 1024;

// The dot-product conv's register block: `channel_vectors` vectors of int32 output channels times
// `columns` output columns, at most as many accumulators as the target's vector registers hold
// next to the operands (20 of 32, 8 of 16) and at least half that many (independent sums hide the
// dot product's latency), at most `max_columns` wide (whose input copy fits the stack). The block
// that recomputes the fewest columns (the last block of a row shifts inwards) wins, then the
// larger one.
struct DotConvTile {
  int channel_vectors, columns;
};
DotConvTile dot_conv_tile(const targets::Target& t, int64_t out_cols, int64_t channel_vectors_total, int64_t max_columns);

// The pointwise dot-product conv (a 1x1 conv of stride 1 without padding: a matrix product over
// the flattened pixels): `pixel_vectors` vectors of int32 pixels times `channel_rows` output
// channels of sums in registers (each step of the reduction loads the pixel vectors of 4 input
// channels and broadcasts each channel's 4 weights), over a tile of `pixel_tile` pixels whose input
// channels are packed on the stack (within kMaxStackBuffer; `element_bytes` per channel). The
// register block that computes the fewest pixels again (a shifted-in last tile or block) wins,
// then the wider one. Null where no tile of one vector of pixels fits: the channel-vector form is
// used then.
struct PointwiseDotTile {
  int pixel_vectors, channel_rows;
  int64_t pixel_tile;
};
std::optional<PointwiseDotTile> pointwise_dot_tile(const targets::Target& t, int64_t pixels, int64_t cin4, int64_t element_bytes);

// The granule of the C loops' dot products (codegen/halide/conv.cpp), in operands of `element_bytes`:
// the shortest they take, and the multiple a pointwise conv's channels are padded to. Bytes: 16
// (gcc 12 sums unsigned x signed bytes with vpdpbusd on 128-bit vectors as well as wider ones:
// MobileNetV2's 1x1 convs of 16-32 input channels as dot products padded to 16 rather than summed
// a pixel vector at a time, on a Sapphire Rapids: the model's C 13.5 -> 9.8 ms; padded to 32:
// 11.6). 16-bit pairs: a whole vector.
int64_t c_dot_granule(const targets::Target& t, int64_t element_bytes);

// The pointwise dot-product conv's C loop (codegen/halide/conv.cpp). With at least a granule of
// input channels (of `element_bytes` each: 1, or 2 where the operands are 16-bit pairs), each
// output is a dot product over its pixel's channels, copied channel-innermost and padded with zeros
// to `channels`, a whole number of granules (the C compiler vectorizes the loop without a remainder;
// measured with gcc 12 on 1x1 convs of MobileNetV2: with bytes faster from 16 channels up once the
// products were written 16-bit (conv.cpp's c_dot_product); with 16-bit operands too, the 1x1
// convs 13.4 -> 11.8 ms on a Zen 3; rounding 16 channels of 16-bit operands up to one vector
// rather than to two, once the weight rows were read in place in blocks: 1.59 -> 1.23 ms);
// `channels` is 0 where each step of the reduction is a loop over pixels instead. `pixel_tile`
// pixels at a time: the whole copy (of `element_bytes` per channel) within half of the innermost
// memory level while every output channel sweeps it, 16 to 256 pixels.
struct PointwiseCLoop {
  int64_t channels, pixel_tile;
};
PointwiseCLoop pointwise_c_loop(const targets::Target& t, int64_t pixels, int64_t cin, int64_t element_bytes);

// Whether the C schedule may compute a depthwise conv a channel's whole plane at a time, as flat
// loops (codegen/halide/conv.cpp's depthwise_plane_pipeline): its stack buffers (padded input,
// sums, requantized bytes; `largest` of them, `total` in all) each within kMaxStackBuffer, as the
// tiled form's are, so that firmware stacks stay small, and together within half of the second
// memory level.
bool c_plane_fits(const targets::Target& t, int64_t largest, int64_t total);

// Output rows per tile: the largest divisor of out_rows whose working set (input rows the tile
// reads, its weight block, its int32 accumulators) fits half of the innermost memory level, so the
// tile stays in L1D while the rest of the layer streams from L2, and whose stack buffers (padded
// input copy, accumulators) each fit kMaxStackBuffer. 0 where even one row's buffers do not fit
// (7x7 planes of 512 channels with AVX2's narrow vectors): the caller copies less at a time.
int64_t conv_tile_rows(const targets::Target& t, const ConvGeometry& g);

// Output rows per tile of the dot-product conv's C schedule (codegen/halide/conv.cpp), which
// transposes each output channel's weights once per tile: the largest divisor of out_rows whose
// padded input copy fits half of the second memory level (L2), where it stays while every output
// channel sweeps it. The C backend keeps stack buffers of any size on the stack (only Halide's
// LLVM backend moves large ones to the heap), and the target has the stack for it: only targets
// with an int8 dot product (the host) get this kernel.
int64_t dot_conv_c_tile_rows(const targets::Target& t, const ConvGeometry& g);

}  // namespace qatc::codegen
