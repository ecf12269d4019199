#include "codegen/saturating_pairs.h"
#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <set>
#include <tuple>

namespace qatc::codegen {

namespace {

// A weight pair pmaddubsw may saturate on: one sign, magnitudes above 128 together.
bool may_saturate(int a, int b) { return ((a > 0 && b > 0) || (a < 0 && b < 0)) && std::abs(a) + std::abs(b) > 128; }

// The number of (vector of `lanes` output channels, tap) in which channels a and b could saturate
// as a pair for some lane, added to cost[a * C_in + b] (a < b): each is one entry of that vector's
// list, however many lanes share it. Only weights of one sign above 128 - |w| can pair badly with
// w, so each (output channel, tap) finds its few bad pairs from its weights sorted by magnitude.
void add_pair_costs(const ir::TensorData& weights, int lanes, std::vector<int64_t>& cost) {
  const ir::Shape& s = weights.shape();
  const int64_t cout = s[0], cin = s[1], taps = s[2] * s[3];
  const int8_t* w = weights.as<int8_t>().data();
  std::vector<int64_t> counted(static_cast<size_t>(cin * cin), -1);
  std::vector<std::pair<int, int64_t>> positive, negative;  // (magnitude, channel)
  for (int64_t co = 0; co < cout; ++co)
    for (int64_t tap = 0; tap < taps; ++tap) {
      const int64_t entry = co / lanes * taps + tap;  // the (vector, tap) a bad pair costs an entry in
      positive.clear(), negative.clear();
      for (int64_t ci = 0; ci < cin; ++ci) {
        const int v = w[(co * cin + ci) * taps + tap];
        if (v != 0) (v > 0 ? positive : negative).emplace_back(std::abs(v), ci);
      }
      for (auto* side : {&positive, &negative}) {
        std::sort(side->rbegin(), side->rend());
        for (size_t i = 0; i < side->size(); ++i)
          for (size_t j = i + 1; j < side->size() && (*side)[i].first + (*side)[j].first > 128; ++j) {
            const auto ab = static_cast<size_t>(std::min((*side)[i].second, (*side)[j].second) * cin +
                                                std::max((*side)[i].second, (*side)[j].second));
            if (counted[ab] != entry) counted[ab] = entry, ++cost[ab];
          }
      }
    }
}

}  // namespace

std::vector<int32_t> identity_order(int64_t channels) {
  std::vector<int32_t> order(static_cast<size_t>(channels));
  std::iota(order.begin(), order.end(), 0);
  return order;
}

std::vector<int32_t> pair_channels(const std::vector<const ir::TensorData*>& weights, int lanes) {
  const int64_t cin = weights.front()->shape()[1];
  std::vector<int64_t> cost(static_cast<size_t>(cin * cin));
  for (const ir::TensorData* w : weights) add_pair_costs(*w, lanes, cost);
  std::vector<std::tuple<int64_t, int64_t, int64_t>> pairs;  // (cost, a, b), a < b
  pairs.reserve(static_cast<size_t>(cin * (cin - 1) / 2));
  for (int64_t a = 0; a < cin; ++a)
    for (int64_t b = a + 1; b < cin; ++b) pairs.emplace_back(cost[static_cast<size_t>(a * cin + b)], a, b);  // a < b: one count
  std::sort(pairs.begin(), pairs.end());
  std::vector<bool> paired(static_cast<size_t>(cin));
  std::vector<int32_t> order;
  for (const auto& [c, a, b] : pairs)
    if (!paired[static_cast<size_t>(a)] && !paired[static_cast<size_t>(b)]) {
      paired[static_cast<size_t>(a)] = paired[static_cast<size_t>(b)] = true;
      order.insert(order.end(), {static_cast<int32_t>(a), static_cast<int32_t>(b)});
    }
  return order;
}

SaturatingPairWeights split_saturating_pairs(const ir::TensorData& weights, int lanes, std::vector<int32_t> order) {
  const ir::Shape& s = weights.shape();  // C_out, C_in, kh, kw
  const int64_t cout = s[0], cin = s[1], kw = s[3], taps = s[2] * s[3];
  const int64_t vectors = (cout + lanes - 1) / lanes;
  SaturatingPairWeights out;
  out.weights.assign(weights.as<int8_t>().begin(), weights.as<int8_t>().end());
  out.order = std::move(order);
  auto at = [&](int64_t co, int64_t slot, int64_t tap) {
    return static_cast<size_t>((co * cin + out.order[static_cast<size_t>(slot)]) * taps + tap);
  };
  // Per vector: the positions (tap, slot) its list holds, and each lane's residual there.
  std::vector<std::set<std::pair<int64_t, int64_t>>> lists(static_cast<size_t>(vectors));
  std::vector<std::vector<std::tuple<int64_t, int64_t, int64_t, int>>> residuals(static_cast<size_t>(vectors));
  for (int64_t co = 0; co < cout; ++co) {
    auto& list = lists[static_cast<size_t>(co / lanes)];
    for (int64_t tap = 0; tap < taps; ++tap)
      for (int64_t slot = 0; slot + 1 < cin; slot += 2) {
        const int a = out.weights[at(co, slot, tap)], b = out.weights[at(co, slot + 1, tap)];
        if (!may_saturate(a, b)) continue;
        // Clamp the weight at a position the list holds, else the larger one (either suffices).
        const bool second = list.count({tap, slot + 1}) || (!list.count({tap, slot}) && std::abs(b) > std::abs(a));
        const int64_t clamped = second ? slot + 1 : slot;
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
  out.lengths = ir::TensorData(ir::DType::i32, {vectors});
  for (int64_t v = 0; v < vectors; ++v) {
    const auto& list = lists[static_cast<size_t>(v)];
    out.lengths.as<int32_t>()[static_cast<size_t>(v)] = static_cast<int32_t>(list.size());
    const std::vector<std::pair<int64_t, int64_t>> ordered(list.begin(), list.end());  // by tap, then slot
    for (size_t e = 0; e < ordered.size(); ++e) {
      const auto [tap, slot] = ordered[e];
      int32_t* p = &out.positions.as<int32_t>()[static_cast<size_t>((v * n + static_cast<int64_t>(e)) * 3)];
      p[0] = static_cast<int32_t>(slot);
      p[1] = static_cast<int32_t>(tap % kw);
      p[2] = static_cast<int32_t>(tap / kw);
    }
    for (const auto& [tap, slot, lane, r] : residuals[static_cast<size_t>(v)]) {
      const auto e = std::find(ordered.begin(), ordered.end(), std::pair{tap, slot}) - ordered.begin();
      out.residuals.as<int8_t>()[static_cast<size_t>((v * n + e) * lanes + lane)] = static_cast<int8_t>(r);
    }
  }
  return out;
}

}  // namespace qatc::codegen
