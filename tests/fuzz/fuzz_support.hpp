// Shared by the fuzz targets: a per-process scratch file for parsers that read from a path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

#include <unistd.h>

namespace fmviz_fuzz {

/// Writes `data` to this process's scratch file with the given extension and returns its path (the same path on
/// every call, so a campaign does not fill the disk).
inline std::string scratch_file(const std::uint8_t* data, std::size_t size, const std::string& extension) {
  const std::string path = (std::filesystem::temp_directory_path() / ("fmviz-fuzz-" + std::to_string(::getpid()) + extension)).string();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) __builtin_trap();  // the harness itself is broken, not the parser
  if (size && std::fwrite(data, 1, size, f) != size) __builtin_trap();
  std::fclose(f);
  return path;
}

}  // namespace fmviz_fuzz
