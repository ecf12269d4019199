// codegen/saturating_pairs.h against its contract, checked element by element: its channel order
// is a permutation, every weight pair of two paired channels it leaves sums to at most 32767 in
// magnitude for any unsigned bytes (pmaddubsw never saturates), and the clamped weights plus each
// vector's residuals at its positions (up to its list's own length) are the weights as given.
#include "codegen/saturating_pairs.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <random>

using namespace qatc;

TEST_CASE("saturating pairs: clamped weights never saturate pmaddubsw and the residuals restore them") {
  std::mt19937 rng(20261207);
  struct Case {
    int64_t cout, cin, kh, kw;
    int lo, hi, lanes;
  };
  // Uniform weights (a quarter of the pairs would saturate), small ones, output channels that do
  // not fill the last vector; the extremes -128 and 127 included.
  for (const Case& c : {Case{20, 16, 3, 3, -128, 127, 8}, Case{16, 6, 1, 1, -128, 127, 8}, Case{33, 64, 3, 3, -40, 40, 8},
                        Case{8, 12, 7, 7, -128, 127, 16}}) {
    CAPTURE(c.cout, c.cin, c.kh, c.kw, c.lanes);
    const int64_t taps = c.kh * c.kw;
    ir::TensorData w(ir::DType::i8, {c.cout, c.cin, c.kh, c.kw});
    for (auto& v : w.as<int8_t>()) v = static_cast<int8_t>(std::uniform_int_distribution<int>(c.lo, c.hi)(rng));
    w.as<int8_t>()[0] = -128, w.as<int8_t>()[static_cast<size_t>(taps)] = 127;
    // Another conv reading the same input, for a matching shared by both (pair_order.h).
    ir::TensorData other(ir::DType::i8, {c.cout + 3, c.cin, c.kh, c.kw});
    for (auto& v : other.as<int8_t>()) v = static_cast<int8_t>(std::uniform_int_distribution<int>(c.lo, c.hi)(rng));
    const std::vector<std::vector<int32_t>> orders{codegen::identity_order(c.cin), codegen::pair_channels({&w}, c.lanes),
                                                   codegen::pair_channels({&w, &other}, c.lanes)};
    for (size_t match = 0; match < orders.size(); ++match) {
    CAPTURE(match);
    const codegen::SaturatingPairWeights split = codegen::split_saturating_pairs(w, c.lanes, orders[match]);
    std::vector<int32_t> sorted = split.order;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t i = 0; i < c.cin; ++i) REQUIRE(sorted[static_cast<size_t>(i)] == i);
    auto weight = [&](int64_t co, int64_t ci, int64_t tap) { return int{split.weights[static_cast<size_t>((co * c.cin + ci) * taps + tap)]}; };
    auto channel = [&](int64_t slot) { return int64_t{split.order[static_cast<size_t>(slot)]}; };
    // Any bytes: the largest pair sum is 255 times the magnitudes of one sign summed.
    for (int64_t co = 0; co < c.cout; ++co)
      for (int64_t tap = 0; tap < taps; ++tap)
        for (int64_t slot = 0; slot + 1 < c.cin; slot += 2) {
          const int a = weight(co, channel(slot), tap), b = weight(co, channel(slot + 1), tap);
          CHECK(255 * (std::max(a, 0) + std::max(b, 0)) <= 32767);
          CHECK(255 * (std::max(-a, 0) + std::max(-b, 0)) <= 32767);
        }
    const int64_t vectors = (c.cout + c.lanes - 1) / c.lanes, n = split.corrections;
    REQUIRE(split.positions.shape() == ir::Shape{vectors, n, 3});
    REQUIRE(split.residuals.shape() == ir::Shape{vectors, n, c.lanes});
    REQUIRE(split.lengths.shape() == ir::Shape{vectors});
    const auto lengths = split.lengths.as<int32_t>();
    CHECK(*std::max_element(lengths.begin(), lengths.end()) == n);
    std::vector<int> restored(split.weights.begin(), split.weights.end());
    for (int64_t v = 0; v < vectors; ++v)
      for (int64_t e = 0; e < n; ++e) {
        const int32_t* p = &split.positions.as<int32_t>()[static_cast<size_t>((v * n + e) * 3)];
        REQUIRE(p[0] >= 0);
        REQUIRE(p[0] < c.cin);
        REQUIRE(p[1] >= 0);
        REQUIRE(p[1] < c.kw);
        REQUIRE(p[2] >= 0);
        REQUIRE(p[2] < c.kh);
        for (int64_t lane = 0; lane < c.lanes; ++lane) {
          const int r = split.residuals.as<int8_t>()[static_cast<size_t>((v * n + e) * c.lanes + lane)];
          const int64_t co = v * c.lanes + lane;
          if (co >= c.cout || e >= lengths[static_cast<size_t>(v)]) {
            CHECK(r == 0);  // past C_out (no weights) or past the list's own length (never read)
            continue;
          }
          restored[static_cast<size_t>((co * c.cin + channel(p[0])) * taps + p[2] * c.kw + p[1])] += r;
        }
      }
    CHECK(std::equal(restored.begin(), restored.end(), w.as<int8_t>().begin()));
    CHECK((n > 0) == (c.lo == -128));  // no two weights of [-40, 40] can saturate
    CHECK(split.order == orders[match]);
    }
  }
}
