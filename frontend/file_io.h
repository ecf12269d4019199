// Whole-file reads and atomic writes with one-line errors naming the file.
#pragma once

#include <string>

namespace qatc::frontend {

// Refuses files larger than max_bytes before reading them.
std::string read_file(const std::string& path, size_t max_bytes = size_t{1} << 31);
// Writes to "<path>.tmp.<pid>" and renames over `path`: readers never see a partial file.
void write_file_atomically(const std::string& path, const std::string& contents);
// Fails unless write_file_atomically(path, ...) could create `path`: commands check their output
// files before the work, so a bad path costs nothing and leaves no other output half-written.
void check_writable(const std::string& path);

}  // namespace qatc::frontend
