#include "codegen/saturating_pairs.h"
#include <algorithm>
#include <cstdlib>
#include <set>
#include <tuple>

namespace qatc::codegen {

namespace {

// A weight pair pmaddubsw may saturate on: one sign, magnitudes above 128 together.
bool may_saturate(int a, int b) { return ((a > 0 && b > 0) || (a < 0 && b < 0)) && std::abs(a) + std::abs(b) > 128; }

}  // namespace

SaturatingPairWeights split_saturating_pairs(const ir::TensorData& weights, int lanes) {
  const ir::Shape& s = weights.shape();  // C_out, C_in, kh, kw
  const int64_t cout = s[0], cin = s[1], kw = s[3], taps = s[2] * s[3];
  const int64_t vectors = (cout + lanes - 1) / lanes;
  SaturatingPairWeights out;
  out.weights.assign(weights.as<int8_t>().begin(), weights.as<int8_t>().end());
  auto at = [&](int64_t co, int64_t ci, int64_t tap) { return static_cast<size_t>((co * cin + ci) * taps + tap); };
  // Per vector: the positions (tap, channel) its list holds, and each lane's residual there.
  std::vector<std::set<std::pair<int64_t, int64_t>>> lists(static_cast<size_t>(vectors));
  std::vector<std::vector<std::tuple<int64_t, int64_t, int64_t, int>>> residuals(static_cast<size_t>(vectors));
  for (int64_t co = 0; co < cout; ++co) {
    auto& list = lists[static_cast<size_t>(co / lanes)];
    for (int64_t tap = 0; tap < taps; ++tap)
      for (int64_t ci = 0; ci + 1 < cin; ci += 2) {
        const int a = out.weights[at(co, ci, tap)], b = out.weights[at(co, ci + 1, tap)];
        if (!may_saturate(a, b)) continue;
        // Clamp the weight at a position the list holds, else the larger one (either suffices).
        const bool second = list.count({tap, ci + 1}) || (!list.count({tap, ci}) && std::abs(b) > std::abs(a));
        const int64_t clamped = second ? ci + 1 : ci;
        const int other = second ? a : b, w = second ? b : a;
        const int kept = (w > 0 ? 1 : -1) * (128 - std::abs(other));
        list.insert({tap, clamped});
        residuals[static_cast<size_t>(co / lanes)].emplace_back(tap, clamped, co % lanes, w - kept);
        out.weights[at(co, clamped, tap)] = static_cast<int8_t>(kept);
      }
  }
  for (const auto& list : lists) out.corrections = std::max<int64_t>(out.corrections, static_cast<int64_t>(list.size()));
  const int64_t n = out.corrections;
  out.positions = ir::TensorData(ir::DType::i32, {vectors, n, 3});
  out.residuals = ir::TensorData(ir::DType::i8, {vectors, n, lanes});
  for (int64_t v = 0; v < vectors; ++v) {
    const auto& list = lists[static_cast<size_t>(v)];
    const std::vector<std::pair<int64_t, int64_t>> ordered(list.begin(), list.end());  // by tap, then channel
    for (size_t e = 0; e < ordered.size(); ++e) {
      const auto [tap, ci] = ordered[e];
      int32_t* p = &out.positions.as<int32_t>()[static_cast<size_t>((v * n + static_cast<int64_t>(e)) * 3)];
      p[0] = static_cast<int32_t>(ci);
      p[1] = static_cast<int32_t>(tap % kw);
      p[2] = static_cast<int32_t>(tap / kw);
    }
    for (const auto& [tap, ci, lane, r] : residuals[static_cast<size_t>(v)]) {
      const auto e = std::find(ordered.begin(), ordered.end(), std::pair{tap, ci}) - ordered.begin();
      out.residuals.as<int8_t>()[static_cast<size_t>((v * n + e) * lanes + lane)] = static_cast<int8_t>(r);
    }
  }
  return out;
}

}  // namespace qatc::codegen
