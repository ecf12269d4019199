// The firmware's static memory plan: buffers live at a common step never share bytes, and the
// arena reaches its lower bound (the most bytes live at one step) where greedy placement alone
// fragments.
#include "codegen/firmware/memory_plan.h"

#include <catch2/catch.hpp>

#include <random>

using qatc::codegen::LiveRange;

namespace {

void check_disjoint(const std::vector<LiveRange>& ranges, const std::vector<int64_t>& offsets, int64_t arena) {
  REQUIRE(offsets.size() == ranges.size());
  for (size_t i = 0; i < ranges.size(); ++i) {
    REQUIRE(offsets[i] >= 0);
    REQUIRE(offsets[i] + ranges[i].bytes <= arena);
    for (size_t j = 0; j < i; ++j) {
      const bool live_together = ranges[i].first <= ranges[j].last && ranges[j].first <= ranges[i].last;
      const bool share_bytes = offsets[i] < offsets[j] + ranges[j].bytes && offsets[j] < offsets[i] + ranges[i].bytes;
      REQUIRE_FALSE((live_together && share_bytes));
    }
  }
}

}  // namespace

// ResNet-18 at 224x224 as qatc plans it (scripts/make_bench_models.py): the eight greedy variants
// all stop at 2609152 bytes, 200704 above the bound; the search over orders reaches it.
TEST_CASE("memory plan: ResNet-18's buffers pack to the peak of live bytes", "[memory_plan]") {
  const std::vector<LiveRange> ranges = {{802816, 0, 1}, {200704, 1, 5}, {200704, 2, 3}, {200704, 3, 4}, {802816, 4, 6}, {802816, 5, 6}, {802816, 6, 7}, {200704, 7, 11}, {200704, 8, 9}, {200704, 9, 10}, {802816, 10, 12}, {802816, 11, 12}, {802816, 12, 13}, {200704, 13, 17}, {100352, 14, 15}, {100352, 15, 16}, {401408, 16, 19}, {100352, 17, 18}, {401408, 18, 19}, {401408, 19, 20}, {100352, 20, 24}, {100352, 21, 22}, {100352, 22, 23}, {401408, 23, 25}, {401408, 24, 25}, {401408, 25, 26}, {100352, 26, 30}, {50176, 27, 28}, {50176, 28, 29}, {200704, 29, 32}, {50176, 30, 31}, {200704, 31, 32}, {200704, 32, 33}, {50176, 33, 37}, {50176, 34, 35}, {50176, 35, 36}, {200704, 36, 38}, {200704, 37, 38}, {200704, 38, 39}, {50176, 39, 43}, {25088, 40, 41}, {25088, 41, 42}, {100352, 42, 45}, {25088, 43, 44}, {100352, 44, 45}, {100352, 45, 46}, {25088, 46, 50}, {25088, 47, 48}, {25088, 48, 49}, {100352, 49, 51}, {100352, 50, 51}, {100352, 51, 52}, {25088, 52, 53}, {512, 53, 55}};
  std::vector<int64_t> offsets;
  const int64_t arena = qatc::codegen::pack_live_ranges(ranges, offsets);
  check_disjoint(ranges, offsets, arena);
  CHECK(qatc::codegen::peak_live_bytes(ranges) == 2408448);
  CHECK(arena == 2408448);
}

TEST_CASE("memory plan: random lifetimes never share bytes, and never go below the bound", "[memory_plan]") {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<LiveRange> ranges;
    const size_t n = 1 + rng() % 24;
    for (size_t i = 0; i < n; ++i) {
      const int64_t first = static_cast<int64_t>(rng() % 30);
      ranges.push_back({64 * static_cast<int64_t>(1 + rng() % 16), first, first + static_cast<int64_t>(rng() % 8)});
    }
    std::vector<int64_t> offsets, again;
    const int64_t arena = qatc::codegen::pack_live_ranges(ranges, offsets);
    check_disjoint(ranges, offsets, arena);
    REQUIRE(arena >= qatc::codegen::peak_live_bytes(ranges));
    REQUIRE(qatc::codegen::pack_live_ranges(ranges, again) == arena);
    REQUIRE(again == offsets);
  }
}
