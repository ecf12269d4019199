// Work in a forked child process under resource limits. qatc runs two kinds of code it cannot
// trust to fail safely there: libonnx's checker and shape inference on untrusted models (a crafted
// model can crash, hang or exhaust them), and Halide's kernel generation (whose process-wide name
// counters must start fresh for each kernel). A crash, a hang or an exhausted limit in the child
// becomes an outcome the caller turns into a message; the parent's state is never touched.
#pragma once

#include <cstdint>
#include <exception>
#include <functional>
#include <string>

namespace qatc::support {

struct ChildLimits {
  int64_t cpu_seconds = 0;          // RLIMIT_CPU; 0: none. Twice this (+10 s) bounds the wall time.
  int64_t extra_address_bytes = 0;  // RLIMIT_AS above what the child starts with; 0: none
};

struct ChildOutcome {
  enum class Ended {
    returned,       // `text` is what the work returned
    refused,        // the work threw an exception `is_refusal` accepted; `text` is its message
    threw,          // it threw another exception; `text` is its message
    out_of_memory,  // std::bad_alloc (the address-space limit, or a real shortage)
    cpu_limit,      // killed at the CPU-time limit
    wall_limit,     // killed at the wall-time limit
    crashed,        // died another way: `signal` is the signal, or 0 for an unexpected exit
  };
  Ended ended = Ended::crashed;
  std::string text;
  int signal = 0;
};

// Runs `work` in a forked child with `limits` and returns how it ended. The child's stderr goes to
// /dev/null (a dying library's noise is not qatc's message) and its crash signals are its own: a
// sanitizer or fuzzer in the parent does not report them. Fails (std::runtime_error) only when the
// child cannot be started.
ChildOutcome run_in_child(const std::function<std::string()>& work, const ChildLimits& limits,
                          const std::function<bool(const std::exception&)>& is_refusal);

// "SIGSEGV", "SIGFPE", ... for messages.
std::string signal_name(int signal);

}  // namespace qatc::support
