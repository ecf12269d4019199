// Byte pairs (saturating_pairs.h) on targets without an int8 dot product: which form a dense
// 8-bit conv's kernel sums in (the cost model), and in which order the tensors between kernels
// hold their channels so that the pairs a conv sums are adjacent without its input copy gathering
// them. The order of a tensor is free wherever every op touching it is indifferent to it or can
// take it into its constants: a conv's weight rows, bias and requantize parameters (the producer),
// a conv's weight columns or a matmul's rows (the consumers), and the per-tensor ops between (the
// widen, add and requantize of a residual add, max pooling, ...). The tensors linked by such ops
// share one order; ResNet's residual stream of a stage is one such group, its blocks' inner
// tensors others. Graph inputs and outputs keep theirs.
#pragma once

#include "codegen/saturating_pairs.h"
#include "ir/graph.h"
#include "targets/target.h"

#include <map>
#include <optional>
#include <vector>

namespace qatc::codegen {

// Whether the target's dense 8-bit convs of `channels` input channels may sum byte pairs
// (pmaddubsw; no int8 dot product): 4 channels a step, and no stems (3 channels; 0.66x on a Zen 3).
bool sums_byte_pairs(const targets::Target& t, int64_t channels);

// The form of a dense 8-bit conv's reduction that costs least, in steps of 4 input channels per
// output vector (of `lanes` int32) and pixel, as measured on a Zen 3 (ResNet-18): a step of 16-bit
// pairs (two pmaddwd) 1.33 steps of byte pairs, an entry of a list of clamped-off parts 3, and where
// the channels are paired by a matching the input copy gathers, each byte gathered 3.5, spread over
// the output vectors (the copy takes C_in bytes per input pixel, `input_stride` = stride_y x
// stride_x per output pixel). `split` is empty where 16-bit pairs cost least. `w`: int8
// [C_out][C_in][kh][kw], C_in a multiple of 4.
struct BytePairChoice {
  std::optional<SaturatingPairWeights> split;
  double cost = 0;
};
BytePairChoice choose_byte_pairs(const ir::TensorData& w, int lanes, int64_t input_stride);

// Runtime tensors stored with their channels in another order: stored channel s holds channel
// order[s] (axis 1). Chosen where a joint matching of the channels for the byte-pair convs reading
// a group of tensors costs less, by the model above, than the orders as they come.
using ChannelOrders = std::map<const ir::Value*, std::vector<int32_t>>;
ChannelOrders plan_channel_orders(const ir::Graph& g, const targets::Target& t);

// `data` (axis `axis` of extent order.size(), the logical order) with its channels stored in `order`.
ir::TensorData permute_channels(const ir::TensorData& data, const std::vector<int32_t>& order, int axis);

}  // namespace qatc::codegen
