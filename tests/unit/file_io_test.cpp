// File I/O on what a hostile environment puts where qatc reads and writes: symbolic links, devices,
// names too long, and (as an unprivileged user, which the root running the tests cannot be
// without dropping its rights) paths it may not read or write.
#include "driver/data_sets.h"
#include "frontend/file_io.h"
#include "ir/error.h"

#include <catch2/catch.hpp>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>

namespace fs = std::filesystem;
using namespace qatc;

namespace {

// A fresh directory every user may enter, removed at the end.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "qatc-file-io-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()));
    path = tmpl;
    fs::permissions(path, fs::perms::all);
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path, fs::perms::all, ec);
    for (const auto& e : fs::recursive_directory_iterator(path, ec)) fs::permissions(e.path(), fs::perms::all, ec);
    fs::remove_all(path, ec);
  }
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// The Error message f gives when run as user nobody (root reads and writes anything).
std::string error_as_nobody(const std::function<void()>& f) {
  int out[2];
  REQUIRE(pipe(out) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(out[0]);
    if (::getuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) _exit(1);
    const std::string message = error_of(f);
    const ssize_t written = ::write(out[1], message.data(), message.size());
    _exit(written == static_cast<ssize_t>(message.size()) ? 0 : 1);
  }
  ::close(out[1]);
  std::string message;
  char buffer[512];
  for (ssize_t n; (n = ::read(out[0], buffer, sizeof buffer)) > 0;) message.append(buffer, static_cast<size_t>(n));
  ::close(out[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  CHECK(WIFEXITED(status));
  return message;
}

}  // namespace

TEST_CASE("writing through a symbolic link replaces its target, never the link") {
  TempDir dir;
  const fs::path target = dir.path / "target.json", link = dir.path / "link.json";
  frontend::write_file_atomically(target.string(), "old");
  fs::create_symlink("target.json", link);
  frontend::check_writable(link.string());
  frontend::write_file_atomically(link.string(), "new");
  CHECK(fs::is_symlink(link));
  CHECK(frontend::read_file(target.string()) == "new");
  // A dangling link: its target is created.
  fs::create_symlink("missing.json", dir.path / "dangling.json");
  frontend::write_file_atomically((dir.path / "dangling.json").string(), "created");
  CHECK(fs::is_symlink(dir.path / "dangling.json"));
  CHECK(frontend::read_file((dir.path / "missing.json").string()) == "created");
  CHECK(fs::directory_iterator(dir.path) != fs::directory_iterator());
  for (const auto& e : fs::directory_iterator(dir.path)) CHECK(e.path().filename().string().find("qatc-tmp") == std::string::npos);
}

TEST_CASE("devices are written through, not replaced") {
  frontend::check_writable("/dev/null");
  frontend::write_file_atomically("/dev/null", "discarded");
  CHECK(fs::is_character_file("/dev/null"));
  CHECK(error_of([] { frontend::read_file("/dev/null"); }) == "/dev/null: is a character device, not a regular file");
}

TEST_CASE("output names too long for the file system are refused before writing") {
  TempDir dir;
  const std::string too_long = (dir.path / std::string(300, 'x')).string();
  CHECK(error_of([&] { frontend::check_writable(too_long); }) == too_long + ": cannot write: file name too long");
  CHECK(error_of([&] { frontend::write_file_atomically(too_long, "x"); }) == too_long + ": cannot write: file name too long");
  const std::string longest = (dir.path / std::string(255, 'y')).string();
  frontend::check_writable(longest);
  frontend::write_file_atomically(longest, "fits");
  CHECK(frontend::read_file(longest) == "fits");
}

TEST_CASE("paths the user may not read or write are refused naming them") {
  TempDir dir;
  const fs::path secret = dir.path / "secret.onnx", closed = dir.path / "closed", sealed = dir.path / "sealed";
  frontend::write_file_atomically(secret.string(), "model");
  fs::permissions(secret, fs::perms::none);
  fs::create_directories(closed / "test_data_set_0");
  fs::permissions(closed, fs::perms::none);
  fs::create_directories(sealed);
  fs::permissions(sealed, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::others_read | fs::perms::others_exec);
  CHECK(error_as_nobody([&] { frontend::read_file(secret.string()); }) == secret.string() + ": cannot read: permission denied");
  CHECK(error_as_nobody([&] { driver::DataSets(closed.string(), ir::Graph()); }) ==
        closed.string() + ": cannot read the directory: Permission denied");
  CHECK(error_as_nobody([&] { frontend::check_writable((sealed / "report.json").string()); }) ==
        (sealed / "report.json").string() + ": cannot write: permission denied");
}
