// fmviz::Error: the one exception type the library throws.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace fmviz {

/// Every failure in fmviz is reported as an Error. `what()` is a single line
/// naming the offending file and field; path() and field() give them apart.
class Error : public std::runtime_error {
 public:
  Error(std::string path, std::string field, const std::string& message)
      : std::runtime_error(compose(path, field, message)),
        path_(std::move(path)),
        field_(std::move(field)) {}

  explicit Error(const std::string& message) : Error({}, {}, message) {}

  /// The file (weights, image, output) the error is about; empty if none.
  const std::string& path() const noexcept { return path_; }
  /// The tensor, layer, option or header field at fault; empty if none.
  const std::string& field() const noexcept { return field_; }

 private:
  static std::string compose(const std::string& path, const std::string& field,
                             const std::string& message) {
    std::string s;
    if (!path.empty()) s += path + ": ";
    if (!field.empty()) s += field + ": ";
    s += message;
    // One line, always: a message built from file contents must not break it.
    for (char& ch : s)
      if (ch == '\n' || ch == '\r') ch = ' ';
    return s;
  }

  std::string path_;
  std::string field_;
};

}  // namespace fmviz
