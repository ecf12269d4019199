// Whole-file reads and atomic writes with one-line errors naming the file.
#pragma once

#include <filesystem>
#include <string>

namespace qatc::frontend {

// Refuses files larger than max_bytes before reading them, and anything that is not a regular
// file (a directory, a FIFO, a device) without reading it, saying what it is.
std::string read_file(const std::string& path, size_t max_bytes = size_t{1} << 31);
// Regular files (and absent ones) are written to a temporary file next to them and renamed over
// them: readers never see a partial file. A symbolic link is never replaced: its target is. Anything
// else that exists (/dev/null, /dev/stdout, a FIFO) is written through, appending.
void write_file_atomically(const std::string& path, const std::string& contents);
// Fails unless write_file_atomically(path, ...) could write `path`: commands check their output
// files before the work, so a bad path costs nothing and leaves no other output half-written.
void check_writable(const std::string& path);

// Removes the entries of `dir` named "<stem><pid>..." whose process has died: what a killed
// qatc left behind. Entries of live processes (a concurrent qatc) are kept.
void remove_leftovers_of_dead_processes(const std::filesystem::path& dir, const std::string& stem);

// `path` made absolute and normal, without a trailing separator ("out/" names the directory "out").
std::filesystem::path normal_absolute(const std::filesystem::path& path);

}  // namespace qatc::frontend
