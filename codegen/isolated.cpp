#include "codegen/isolated.h"

#include "ir/error.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace qatc::codegen {

namespace {

void write_all(int fd, const std::string& s) {
  for (size_t done = 0; done < s.size();) {
    const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ::_exit(3);
    done += static_cast<size_t>(n);
  }
}

}  // namespace

std::string run_isolated(const std::function<std::string()>& make) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error(std::string("kernel generation: pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("kernel generation: fork: ") + std::strerror(errno));
  if (pid == 0) {
    // The child: its result (status byte 'k') or a qatc::Error's message ('e') down the pipe,
    // then _exit, running no destructors or atexit handlers of the parent's state.
    ::close(fds[0]);
    int status = 0;
    try {
      write_all(fds[1], "k" + make());
    } catch (const Error& e) {
      write_all(fds[1], std::string("e") + e.what());
    } catch (const std::exception& e) {
      write_all(fds[1], std::string("x") + e.what());
      status = 3;
    }
    ::close(fds[1]);
    ::_exit(status);
  }
  ::close(fds[1]);
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (!out.empty() && out[0] == 'e') throw Error(out.substr(1));
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0 || out.empty() || out[0] != 'k')
    throw std::runtime_error("kernel generation failed in its child process" + (out.size() > 1 ? ": " + out.substr(1) : std::string()));
  return out.substr(1);
}

}  // namespace qatc::codegen
