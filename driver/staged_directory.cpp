#include "driver/staged_directory.h"

#include "frontend/file_io.h"
#include "ir/error.h"

#include <fmt/format.h>
#include <unistd.h>

#include <vector>

namespace qatc::driver {

namespace fs = std::filesystem;

StagedDirectory::StagedDirectory(const fs::path& destination) : destination_(frontend::normal_absolute(destination)) {
  std::error_code ec;
  if (fs::exists(destination_, ec) && !fs::is_directory(destination_, ec))
    fail("{}: exists and is not a directory", destination.string());
  // The stage's name says whose it is; stages of killed runs are removed (those of running ones kept).
  static int count = 0;
  const std::string stem = "." + destination_.filename().string() + ".qatc-stage-";
  frontend::remove_leftovers_of_dead_processes(destination_.parent_path(), stem);
  stage_ = destination_.parent_path() / fmt::format("{}{}-{}", stem, ::getpid(), count++);
  fs::create_directories(stage_, ec);
  if (ec) fail("{}: cannot create the directory: {}", destination.string(), ec.message());
}

StagedDirectory::~StagedDirectory() {
  std::error_code ec;
  fs::remove_all(stage_, ec);
}

void StagedDirectory::commit() {
  std::error_code ec;
  std::vector<fs::path> files;  // listed first: moving them out while listing could skip some
  for (fs::recursive_directory_iterator it(stage_, ec), end; !ec && it != end; it.increment(ec))
    if (std::error_code type_ec; it->is_regular_file(type_ec)) files.push_back(it->path());
  if (ec) fail("{}: cannot read the directory: {}", stage_.string(), ec.message());
  for (const fs::path& file : files) {
    const fs::path to = destination_ / file.lexically_relative(stage_);
    fs::create_directories(to.parent_path(), ec);
    if (!ec) fs::rename(file, to, ec);
    if (ec) fail("{}: cannot write: {}", to.string(), ec.message());
  }
}

}  // namespace qatc::driver
