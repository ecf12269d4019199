// Kernel generation in a child process. Halide numbers the names it generates (temporaries,
// Funcs, closures) with process-wide counters, so a kernel's text would depend on which kernels
// this process generated before it — and so, with a kernel cache, on which ones were cached, or
// on whether two compiles shared the cache at the same time. Each kernel generated in a fresh
// fork starts from the same counters: its files are a function of its spec alone.
#pragma once

#include <functional>
#include <string>

namespace qatc::codegen {

// Runs `make` in a forked child and returns what it returned. A qatc::Error in the child is
// rethrown here with its message; any other failure is an internal error (std::runtime_error).
std::string run_isolated(const std::function<std::string()>& make);

}  // namespace qatc::codegen
