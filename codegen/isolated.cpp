#include "codegen/isolated.h"

#include "ir/error.h"
#include "support/child_process.h"

#include <stdexcept>

namespace qatc::codegen {

std::string run_isolated(const std::function<std::string()>& make) {
  using Ended = support::ChildOutcome::Ended;
  const support::ChildOutcome r = support::run_in_child(
      make, {}, [](const std::exception& e) { return dynamic_cast<const Error*>(&e) != nullptr; });
  if (r.ended == Ended::returned) return r.text;
  if (r.ended == Ended::refused) throw Error(r.text);
  throw std::runtime_error("kernel generation failed in its child process" +
                           (r.ended == Ended::crashed && r.signal ? ": " + support::signal_name(r.signal)
                            : r.text.empty()                      ? std::string()
                                                                  : ": " + r.text));
}

}  // namespace qatc::codegen
