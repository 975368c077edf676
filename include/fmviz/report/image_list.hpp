// Which images to run: every image in a folder (sorted, optionally recursive) and list files (one path per line).
#pragma once

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <istream>
#include <string>
#include <system_error>
#include <vector>

#include "../error.hpp"

namespace fmviz {

/// True for the file names fmviz reads as images: .jpg .jpeg .png .bmp .gif .psd .tga, in any case.
inline bool has_image_extension(const std::filesystem::path& file) {
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* known : {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".psd", ".tga"})
    if (ext == known) return true;
  return false;
}

/// The image files in `folder` (and, with `recursive`, in every folder below it), sorted by path so that every
/// run sees the same order. Hidden files and folders (names starting with '.') are left out, and folders that
/// cannot be read are skipped; symbolic links to folders are not followed (no loops). Throws fmviz::Error when
/// `folder` is not a readable folder.
inline std::vector<std::string> list_images(const std::string& folder, bool recursive = false) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw Error(folder, "image folder", "is not a folder");
  std::vector<std::string> found;
  const auto hidden = [](const fs::path& p) { const std::string n = p.filename().string(); return !n.empty() && n[0] == '.'; };
  const auto consider = [&](const fs::directory_entry& entry) {
    std::error_code type_error;
    if (!hidden(entry.path()) && entry.is_regular_file(type_error) && has_image_extension(entry.path()))
      found.push_back(entry.path().string());
  };
  const auto options = fs::directory_options::skip_permission_denied;
  if (recursive) {
    fs::recursive_directory_iterator it(folder, options, ec), end;
    if (ec) throw Error(folder, "image folder", "cannot be read: " + ec.message());
    for (; it != end; it.increment(ec)) {
      if (ec) throw Error(folder, "image folder", "cannot be read: " + ec.message());
      if (hidden(it->path())) {
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      consider(*it);
    }
  } else {
    fs::directory_iterator it(folder, options, ec), end;
    if (ec) throw Error(folder, "image folder", "cannot be read: " + ec.message());
    for (; it != end; it.increment(ec)) {
      if (ec) throw Error(folder, "image folder", "cannot be read: " + ec.message());
      consider(*it);
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

/// Image paths from a list: one per line; blank lines and lines starting with '#' are left out, a trailing
/// carriage return is dropped. `name` (the list's file name, or "-" for standard input) is used in errors.
inline std::vector<std::string> read_image_list(std::istream& in, const std::string& name) {
  std::vector<std::string> paths;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    if (line.find('\0') != std::string::npos) throw Error(name, "image list", "holds a NUL byte: not a text file");
    paths.push_back(line);
  }
  if (in.bad()) throw Error(name, "image list", "cannot be read");
  return paths;
}

/// The image paths listed in the file `path` (see the stream overload).
inline std::vector<std::string> read_image_list(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error(path, "image list", "is a folder, not a list file");
  std::ifstream in(path);
  if (!in) throw Error(path, "image list", "cannot be opened");
  return read_image_list(in, path);
}

}  // namespace fmviz
