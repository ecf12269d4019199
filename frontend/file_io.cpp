#include "frontend/file_io.h"

#include "ir/error.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace qatc::frontend {

namespace fs = std::filesystem;

namespace {

// strerror's text in lower case, to follow "path: ".
std::string error_text(int err) {
  std::string s = std::strerror(err);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

std::string_view kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// Closes its descriptor when it goes out of scope.
struct Descriptor {
  int fd;
  explicit Descriptor(int fd) : fd(fd) {}
  Descriptor(const Descriptor&) = delete;
  ~Descriptor() { close(); }
  int close() { return fd < 0 ? 0 : ::close(std::exchange(fd, -1)); }
};

void write_all(int fd, const std::string& contents, const std::string& path) {
  for (size_t done = 0; done < contents.size();) {
    const ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("{}: cannot write: {}", path, error_text(errno));
    done += static_cast<size_t>(n);
  }
}

// Where write_file_atomically puts the bytes for `path`.
struct Destination {
  fs::path file;         // `path`, or the end of its chain of symbolic links
  bool through = false;  // exists and is not a regular file: written in place, never replaced
  int descriptor = -1;   // through one of our open descriptors (/dev/stdout, /dev/fd/N)
};

// N when `p` is /proc/self/fd/N, where /dev/stdout and /dev/fd/N lead: an open file of ours,
// written through the descriptor itself so that its offset stays shared with our other output.
int own_descriptor(const fs::path& p) {
  std::error_code ec;
  const fs::path dir = fs::canonical(p.has_parent_path() ? p.parent_path() : fs::path("."), ec);
  if (ec || (dir != "/proc/self/fd" && dir != fmt::format("/proc/{}/fd", ::getpid()))) return -1;
  const std::string name = p.filename().string();
  char* end = nullptr;
  const long fd = std::strtol(name.c_str(), &end, 10);
  return !name.empty() && *end == '\0' && fd >= 0 && fd <= INT_MAX ? static_cast<int>(fd) : -1;
}

Destination destination(const std::string& path) {
  fs::path p = path;
  for (int links = 0;; ++links) {
    if (const int fd = own_descriptor(p); fd >= 0) return {p, true, fd};
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0) {
      if (errno == ENOENT) return {p, false};  // created by the rename (the directory is checked then)
      fail("{}: cannot write: {}", path, error_text(errno));
    }
    if (S_ISREG(st.st_mode)) return {p, false};
    if (S_ISDIR(st.st_mode)) fail("{}: cannot write: is a directory", path);
    if (!S_ISLNK(st.st_mode)) return {p, true};
    if (links == 40) fail("{}: cannot write: too many levels of symbolic links", path);
    std::error_code ec;
    const fs::path target = fs::read_symlink(p, ec);
    if (ec) fail("{}: cannot write: {}", path, error_text(ec.value()));
    p = target.is_absolute() ? target : p.parent_path() / target;
  }
}

// A new, empty, uniquely named file next to `file`; the caller renames or removes it. Its name does
// not grow with `file`'s, so a name just short of the limit still gets a temporary file.
std::pair<int, fs::path> create_temporary(const fs::path& file, const std::string& path) {
  static std::atomic<int> counter{0};
  const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
  const fs::path tmp = dir / fmt::format(".qatc-tmp-{}-{}", ::getpid(), counter++);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) {
    if (errno == ENOENT) fail("{}: cannot write: directory {} does not exist", path, dir.string());
    fail("{}: cannot write: {}", path, error_text(errno));
  }
  return {fd, tmp};
}

// Writes to what is not replaced; a FIFO nobody reads is refused instead of waited on.
void write_through(const Destination& d, const std::string& contents, const std::string& path) {
  if (d.descriptor >= 0) {
    std::fflush(nullptr);  // what we printed before comes before
    write_all(d.descriptor, contents, path);
    return;
  }
  const Descriptor out(::open(d.file.c_str(), O_WRONLY | O_APPEND | O_NONBLOCK | O_CLOEXEC));
  if (out.fd < 0) fail("{}: cannot write: {}", path, errno == ENXIO ? "a FIFO no process reads" : error_text(errno));
  ::fcntl(out.fd, F_SETFL, O_WRONLY | O_APPEND);  // blocking writes from here on
  write_all(out.fd, contents, path);
}

}  // namespace

std::string read_file(const std::string& path, size_t max_bytes) {
  // Looked at before opening: opening a FIFO would wait for a writer, a device may do anything.
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) fail("{}: {}", path, errno == ENOENT ? "no such file" : error_text(errno));
  if (!S_ISREG(st.st_mode)) fail("{}: is {}, not a regular file", path, kind_of(st.st_mode));
  const auto size = static_cast<size_t>(st.st_size);
  if (size > max_bytes) fail("{}: file is {} bytes, larger than the limit of {}", path, size, max_bytes);
  const Descriptor in(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (in.fd < 0) fail("{}: cannot read: {}", path, error_text(errno));
  std::string bytes(size, '\0');
  for (size_t done = 0; done < size;) {
    const ssize_t n = ::read(in.fd, bytes.data() + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("{}: cannot read: {}", path, error_text(errno));
    if (n == 0) fail("{}: cannot read: the file shrank while being read", path);
    done += static_cast<size_t>(n);
  }
  return bytes;
}

void write_file_atomically(const std::string& path, const std::string& contents) {
  const Destination d = destination(path);
  if (d.through) return write_through(d, contents, path);
  const auto [fd, tmp] = create_temporary(d.file, path);
  try {
    Descriptor out(fd);
    write_all(out.fd, contents, path);
    if (out.close() != 0) fail("{}: cannot write: {}", path, error_text(errno));
    if (::rename(tmp.c_str(), d.file.c_str()) != 0) fail("{}: cannot write: {}", path, error_text(errno));
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
}

void check_writable(const std::string& path) {
  const Destination d = destination(path);
  if (d.descriptor >= 0) {
    const int flags = ::fcntl(d.descriptor, F_GETFL);
    if (flags < 0 || (flags & O_ACCMODE) == O_RDONLY) fail("{}: cannot write: not open for writing", path);
    return;
  }
  if (d.through) {
    if (::access(d.file.c_str(), W_OK) != 0) fail("{}: cannot write: {}", path, error_text(errno));
    return;
  }
  // Creating what the write will create meets what it would meet: a missing or read-only directory,
  // a name too long, no permission.
  struct stat st;
  const bool exists = ::lstat(d.file.c_str(), &st) == 0;
  auto [fd, tmp] = create_temporary(d.file, path);
  ::close(fd);
  ::unlink(tmp.c_str());
  if (exists) return;
  const int created = ::open(d.file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (created < 0 && errno != EEXIST) fail("{}: cannot write: {}", path, error_text(errno));
  if (created >= 0) {
    ::close(created);
    ::unlink(d.file.c_str());
  }
}

void remove_leftovers_of_dead_processes(const fs::path& dir, const std::string& stem) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.starts_with(stem)) continue;
    const long pid = std::strtol(name.c_str() + stem.size(), nullptr, 10);
    std::error_code ignored;
    if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) fs::remove_all(it->path(), ignored);
  }
}

fs::path normal_absolute(const fs::path& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec).lexically_normal();
  if (ec) fail("{}: {}", path.string(), error_text(ec.value()));
  return p.has_filename() ? p : p.parent_path();
}

}  // namespace qatc::frontend
