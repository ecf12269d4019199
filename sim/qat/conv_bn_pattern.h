// Exact mode's reading of PyTorch's fused Conv+BN QAT export (REFERENCE.md 1.2).
//
// torch.ao's ConvBn modules compute bn(conv(x, fq(w * sf)) / sf [+ b]) with sf = gamma/sqrt(var+eps)
// per channel, and export it as  conv -> div(sf) -> [add(b)] -> batchnorm.  In real arithmetic the
// division and the batchnorm's scale cancel: BN(conv/sf + b) = conv + (b - mean)*sf + beta. A float32
// framework does not quite cancel them: the exported sf and the alpha = (1/sqrt(var+eps))*gamma that
// the batchnorm computes are separately rounded and may differ by an ulp or two, which would make the
// literal exact result conv * (alpha/sf) + ... carry a spurious factor (1 +- 2^-23).
//
// The documented exact semantics of this pattern is the folded one. The evaluator gets it by running
// the chain literally (div and add are exact on Exact numbers) and letting that batchnorm use
// alpha = c, the div's own per-channel divisor: (x/c + b)*c + (beta - mean*c) = x + (b - mean)*c + beta,
// exactly. This applies only where the chain has exactly that shape (the div's result feeds only the
// add or the batchnorm, the add's only the batchnorm, c and b are per-channel constants) and only when
// the batchnorm's float32 alpha is within 4 float32 ulps of c in every channel, i.e. when c really is
// the batchnorm's scale factor; otherwise the batchnorm is evaluated literally (and throws where that
// is inexact).
#pragma once

#include "ir/graph.h"

#include <optional>
#include <unordered_map>
#include <vector>

namespace qatc::sim {

// One div -> [add] -> batchnorm chain: x / c [+ b], then the batchnorm.
struct ConvBnChain {
  const ir::Op* div = nullptr;
  const ir::Op* add = nullptr;      // null where the chain has no bias add
  const ir::Value* divisor = nullptr;  // c
  const ir::Value* bias = nullptr;     // b, the add's constant operand (null without the add)
};

class ConvBnFolds {
 public:
  ConvBnFolds() = default;
  explicit ConvBnFolds(const ir::Graph& g);  // scans g for div -> [add] -> batchnorm chains

  // The chain ending in batchnorm `bn`, or null.
  const ConvBnChain* chain_of(const ir::Op& bn) const;
  // Its divisor constant c, or null.
  const ir::Value* divisor_of(const ir::Op& bn) const;

 private:
  std::unordered_map<const ir::Op*, ConvBnChain> chains_;
};

// Per-channel constant `c` (as is_per_channel_constant checks) for a tensor of `shape`, one value
// per channel of shape[1].
std::vector<double> per_channel_values(const ir::Value& c, const ir::Shape& shape);

// c per channel as the alpha of a batchnorm with `shape` (its input's), if every channel's float32
// alpha is within 4 float32 ulps of it; else nullopt.
std::optional<std::vector<double>> folded_alpha(const ir::Value& divisor, const ir::Shape& shape,
                                                const std::vector<float>& alpha_f32);

}  // namespace qatc::sim
