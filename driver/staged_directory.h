// Output that lands all at once or not at all: `qatc run` writes its dumps and saved outputs below
// a staging directory next to the destination and moves them in only after every data set ran, so
// a data set that fails leaves no files of the earlier ones behind.
#pragma once

#include <filesystem>

namespace qatc::driver {

class StagedDirectory {
 public:
  // Refuses a destination that exists and is not a directory; creates the stage (and the
  // destination's parent directories).
  explicit StagedDirectory(const std::filesystem::path& destination);
  StagedDirectory(const StagedDirectory&) = delete;
  ~StagedDirectory();  // removes the stage with whatever commit() did not move

  // Where to write: below here, as below the destination.
  const std::filesystem::path& stage() const { return stage_; }
  // Moves every file of the stage to the same relative path below the destination, replacing a
  // file of that name there; other files of the destination are kept.
  void commit();

 private:
  std::filesystem::path destination_, stage_;
};

}  // namespace qatc::driver
