// What a report run has created on disk, so that a failed run can take it all back.
#pragma once

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "../error.hpp"

namespace fmviz {
namespace detail {

/// Files and folders created by a run, in creation order. roll_back() removes them, newest first; folders are
/// only removed when empty, so nothing that was there before the run is ever touched.
class CreatedFiles {
 public:
  /// Creates `dir` and the parents it needs, remembering the ones that did not exist.
  void create_folders(const std::filesystem::path& dir) {
    namespace fs = std::filesystem;
    std::vector<fs::path> missing;
    std::error_code ec;
    for (fs::path p = dir; !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
      missing.push_back(p);
      if (p == p.parent_path()) break;
    }
    fs::create_directories(dir, ec);
    std::error_code is_dir_error;
    if (ec || !fs::is_directory(dir, is_dir_error))
      throw Error(dir.string(), "out", "cannot create output folder" + (ec ? ": " + ec.message() : std::string()));
    folders_.insert(folders_.end(), missing.rbegin(), missing.rend());
  }

  void add_file(const std::filesystem::path& file) { files_.push_back(file); }

  void roll_back() noexcept {
    std::error_code ec;
    for (auto f = files_.rbegin(); f != files_.rend(); ++f) std::filesystem::remove(*f, ec);
    for (auto d = folders_.rbegin(); d != folders_.rend(); ++d) std::filesystem::remove(*d, ec);  // empty ones only
    files_.clear();
    folders_.clear();
  }

  /// Forgets everything: what was created stays.
  void keep() noexcept {
    files_.clear();
    folders_.clear();
  }

 private:
  std::vector<std::filesystem::path> files_, folders_;
};

}  // namespace detail
}  // namespace fmviz
