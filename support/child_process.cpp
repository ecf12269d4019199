#include "support/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <new>
#include <stdexcept>

// The sanitizers' death callback (libFuzzer sets one that saves the input as a crash): present
// only in sanitized builds, so declared weak.
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

#if defined(__SANITIZE_ADDRESS__)
#define QATC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QATC_ASAN 1
#endif
#endif

namespace qatc::support {

namespace {

void write_all(int fd, const std::string& s) {
  for (size_t done = 0; done < s.size();) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ::_exit(3);
    done += static_cast<size_t>(n);
  }
}

// The child's own address space now, from /proc/self/statm (its first field, in pages).
int64_t address_space_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  long long pages = 0;
  if (f) {
    if (std::fscanf(f, "%lld", &pages) != 1) pages = 0;
    std::fclose(f);
  }
  return pages * ::sysconf(_SC_PAGESIZE);
}

[[noreturn]] void be_child(int out, const std::function<std::string()>& work, const ChildLimits& limits,
                           const std::function<bool(const std::exception&)>& is_refusal) {
  // A crash is the child's own end, seen by the parent as a signal: default handlers, and no
  // sanitizer or fuzzer report (they would name the parent's input as a crash of qatc).
  if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(nullptr);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGXCPU, SIGPIPE}) std::signal(sig, SIG_DFL);
  if (const int null = ::open("/dev/null", O_WRONLY); null >= 0) ::dup2(null, STDERR_FILENO);
  if (limits.cpu_seconds > 0) {
    const rlimit cpu{static_cast<rlim_t>(limits.cpu_seconds), static_cast<rlim_t>(limits.cpu_seconds + 1)};
    ::setrlimit(RLIMIT_CPU, &cpu);
  }
#ifndef QATC_ASAN  // AddressSanitizer reserves terabytes of shadow memory up front: no RLIMIT_AS there
  if (limits.extra_address_bytes > 0) {
    const auto bytes = static_cast<rlim_t>(address_space_bytes() + limits.extra_address_bytes);
    const rlimit as{bytes, bytes};
    ::setrlimit(RLIMIT_AS, &as);
  }
#endif
  std::string result;
  try {
    result = "k" + work();
  } catch (const std::bad_alloc&) {
    result = "m";
  } catch (const std::exception& e) {
    result = (is_refusal(e) ? "r" : "x") + std::string(e.what());
  }
  write_all(out, result);
  ::close(out);
  ::_exit(0);
}

}  // namespace

ChildOutcome run_in_child(const std::function<std::string()>& work, const ChildLimits& limits,
                          const std::function<bool(const std::exception&)>& is_refusal) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::close(fds[0]);
    be_child(fds[1], work, limits, is_refusal);
  }
  ::close(fds[1]);

  // Read until the child closes the pipe, or until the wall-time limit (a child blocked without
  // spending CPU time, or one whose CPU limit never fires).
  using Clock = std::chrono::steady_clock;
  const bool timed = limits.cpu_seconds > 0;
  const auto deadline = Clock::now() + std::chrono::seconds(2 * limits.cpu_seconds + 10);
  std::string out;
  bool wall_limit = false;
  char buf[1 << 16];
  for (;;) {
    int wait_ms = -1;
    if (timed) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        wall_limit = true;
        break;
      }
      wait_ms = static_cast<int>(left);
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, wait_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) continue;  // the deadline check above ends the wait
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  if (wall_limit) ::kill(pid, SIGKILL);
  int status = 0;
  rusage usage{};
  while (::wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  const int64_t cpu_used = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec;

  ChildOutcome r;
  if (wall_limit) {
    r.ended = ChildOutcome::Ended::wall_limit;
  } else if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
    // SIGXCPU at the soft CPU limit, SIGKILL at the hard one (or from elsewhere, if it had not
    // used its time).
    const bool at_limit = r.signal == SIGXCPU || (r.signal == SIGKILL && cpu_used >= limits.cpu_seconds);
    r.ended = timed && at_limit ? ChildOutcome::Ended::cpu_limit : ChildOutcome::Ended::crashed;
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && !out.empty()) {
    r.text = out.substr(1);
    r.ended = out[0] == 'k'   ? ChildOutcome::Ended::returned
              : out[0] == 'r' ? ChildOutcome::Ended::refused
              : out[0] == 'm' ? ChildOutcome::Ended::out_of_memory
                              : ChildOutcome::Ended::threw;
  }
  return r;
}

std::string signal_name(int signal) {
  const char* abbrev = ::sigabbrev_np(signal);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(signal);
}

}  // namespace qatc::support
