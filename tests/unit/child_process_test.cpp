// support/child_process: every way a child can end is reported as such, never taking the parent
// with it.
#include "ir/error.h"
#include "support/child_process.h"

#include <catch2/catch.hpp>

#include <csignal>
#include <new>
#include <vector>

using namespace qatc;
using Ended = support::ChildOutcome::Ended;

namespace {

bool is_error(const std::exception& e) { return dynamic_cast<const Error*>(&e) != nullptr; }

}  // namespace

TEST_CASE("a child's result, refusal and exception come back with their text") {
  auto r = support::run_in_child([] { return std::string(1 << 20, 'x'); }, {}, is_error);
  CHECK(r.ended == Ended::returned);
  CHECK(r.text == std::string(1 << 20, 'x'));  // larger than a pipe's buffer
  r = support::run_in_child([]() -> std::string { fail("tensor '{}': bad", "w"); }, {}, is_error);
  CHECK(r.ended == Ended::refused);
  CHECK(r.text == "tensor 'w': bad");
  r = support::run_in_child([]() -> std::string { throw std::logic_error("bug"); }, {}, is_error);
  CHECK(r.ended == Ended::threw);
  CHECK(r.text == "bug");
}

TEST_CASE("a child's crash is named by its signal") {
  auto r = support::run_in_child([]() -> std::string { std::raise(SIGSEGV); return ""; }, {}, is_error);
  CHECK(r.ended == Ended::crashed);
  CHECK(support::signal_name(r.signal) == "SIGSEGV");
  r = support::run_in_child([]() -> std::string { std::abort(); }, {}, is_error);
  CHECK(r.ended == Ended::crashed);
  CHECK(support::signal_name(r.signal) == "SIGABRT");
  r = support::run_in_child([]() -> std::string { ::_exit(7); }, {}, is_error);
  CHECK(r.ended == Ended::crashed);
  CHECK(r.signal == 0);
}

TEST_CASE("a child spinning past its CPU-time limit is stopped") {
  const auto r = support::run_in_child(
      []() -> std::string {
        for (;;) asm volatile("");  // spins without end, and is not optimized away
      },
      {.cpu_seconds = 1}, is_error);
  CHECK(r.ended == Ended::cpu_limit);
}

#if !defined(__SANITIZE_ADDRESS__)
TEST_CASE("a child allocating past its address-space limit runs out of memory") {
  const auto r = support::run_in_child(
      [] {
        std::vector<std::vector<char>> blocks;
        for (int i = 0; i < 64; ++i) blocks.emplace_back(size_t{64} << 20, 'x');  // 4 GiB in all
        return std::string();
      },
      {.cpu_seconds = 60, .extra_address_bytes = int64_t{256} << 20}, is_error);
  CHECK(r.ended == Ended::out_of_memory);
}
#endif
