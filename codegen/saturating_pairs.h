// Exact sums of u8 x s8 products from an instruction whose pair sums saturate (x86's pmaddubsw:
// a·w + a'·w' per int16 lane, clamped to [-32768, 32767]). With a, a' in [0, 255] a pair sum can
// leave int16 only if w and w' have one sign and |w| + |w'| > 128 (0.16 % of ResNet-18's adjacent
// weight pairs). The plan clamps one weight of each such pair so that |w| + |w'| <= 128 (then
// |sum| <= 255 · 128 = 32640, never saturated) and adds the clamped-off part back exactly: per
// vector of output channels, a short list of input positions (slot, tap), each read once per
// output and multiplied by that vector's residual weights (zero in the lanes that need none).
// The position clamped in a pair is one the vector's list holds already where possible. Which
// input channels pair is the plan's choice: channels 2j, 2j + 1, or a greedy matching that pairs
// channels whose weights rarely saturate together (ResNet-18's lists 3-10x shorter), which the
// kernel's input copy then gathers side by side, or the tensor's producer stores side by side
// (pair_order.h).
#pragma once
#include "ir/tensor_data.h"
#include <cstdint>
#include <vector>

namespace qatc::codegen {

struct SaturatingPairWeights {
  std::vector<int8_t> weights;  // the conv's weights [C_out][C_in][taps], clamped
  std::vector<int32_t> order;   // the input channel at each slot: slots 2j and 2j + 1 are a pair
  // Per vector of `lanes` output channels (C_out rounded up): the positions and, per position,
  // one residual per lane. Every vector's list has `corrections` entries (the longest list; the
  // others end in zero residuals at position (0, 0, 0)).
  int64_t corrections = 0;
  ir::TensorData positions;  // int32 [vectors][corrections][3]: input slot, kx, ky
  ir::TensorData residuals;  // int8 [vectors][corrections][lanes]
  ir::TensorData lengths;    // int32 [vectors]: each list's own length (the kernel skips the rest)
};

// Slots 2j, 2j + 1 pair in each tap, as pmaddubsw pairs adjacent bytes of the channel-innermost
// weights and input copy; `order` gives the input channel at each slot. `weights` is int8
// [C_out][C_in][kh][kw], C_in even.
SaturatingPairWeights split_saturating_pairs(const ir::TensorData& weights, int lanes, std::vector<int32_t> order);

// The channels 0 .. C_in - 1 in order (slots 2j, 2j + 1 are channels 2j, 2j + 1).
std::vector<int32_t> identity_order(int64_t channels);

// A greedy matching of the input channels that convs with these weights (int8 [C_out][C_in][kh][kw],
// one C_in) all read: cheapest pairs first, a pair's cost the number of list entries it adds
// summed over the convs. Several convs reading one tensor share its order (pair_order.h).
std::vector<int32_t> pair_channels(const std::vector<const ir::TensorData*>& weights, int lanes);

}  // namespace qatc::codegen
