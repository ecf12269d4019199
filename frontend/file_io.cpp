#include "frontend/file_io.h"

#include "ir/error.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace qatc::frontend {

std::string read_file(const std::string& path, size_t max_bytes) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) fail("{}: no such file", path);
  auto size = std::filesystem::file_size(path, ec);
  if (ec) fail("{}: cannot read: {}", path, ec.message());
  if (size > max_bytes) fail("{}: file is {} bytes, larger than the limit of {}", path, size, max_bytes);
  std::ifstream in(path, std::ios::binary);
  std::string bytes(size, '\0');
  if (!in.read(bytes.data(), static_cast<std::streamsize>(size))) fail("{}: cannot read: {}", path, std::strerror(errno));
  return bytes;
}

void write_file_atomically(const std::string& path, const std::string& contents) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out.write(contents.data(), static_cast<std::streamsize>(contents.size())) || !out.flush()) {
      std::filesystem::remove(tmp);
      fail("{}: cannot write: {}", path, std::strerror(errno));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp);
    fail("{}: cannot write: {}", path, ec.message());
  }
}

void check_writable(const std::string& path) {
  const std::filesystem::path p(path);
  const std::filesystem::path dir = p.parent_path().empty() ? "." : p.parent_path();
  std::error_code ec;
  if (std::filesystem::is_directory(p, ec)) fail("{}: cannot write: is a directory", path);
  if (!std::filesystem::is_directory(dir, ec)) fail("{}: cannot write: directory {} does not exist", path, dir.string());
  if (::access(dir.c_str(), W_OK) != 0) fail("{}: cannot write: {}", path, std::strerror(errno));
}

}  // namespace qatc::frontend
