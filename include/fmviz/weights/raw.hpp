// Reader for raw flat weight files: little-endian float32 tensors back to back, no header.
// The file carries no names, so the caller says which layouts (lists of named shapes) it may hold.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "../detail/mapped_file.hpp"
#include "../error.hpp"
#include "tensor_spec.hpp"
#include "tensor_table.hpp"

namespace fmviz {

/// A layout a raw file may have: a description for messages ("conv stack") and its tensors in order.
struct RawLayout {
  std::string description;
  std::vector<TensorSpec> tensors;
};

namespace detail {

inline std::string thousands(std::size_t n) {
  std::string s = std::to_string(n);
  for (std::size_t i = s.size(); i > 3; i -= 3) s.insert(i - 3, ",");
  return s;
}

}  // namespace detail

/// Maps `path` and slices it by the first layout whose float32 size equals the file size exactly.
/// `hint` is appended to the error when none matches.
inline TensorTable read_raw(const std::string& path, const std::vector<RawLayout>& layouts, const std::string& hint = {}) {
  TensorTable table;
  table.file = std::make_shared<const detail::MappedFile>(path);
  const std::size_t bytes = table.file->size();
  for (const RawLayout& layout : layouts) {
    if (element_count(layout.tensors) * 4 != bytes) continue;
    const unsigned char* p = table.file->data();
    for (const TensorSpec& spec : layout.tensors) {
      const std::size_t n = shape_size(spec.shape) * 4;
      table.tensors.push_back({spec.name, DType::f32, spec.shape, p, n});
      p += n;
    }
    return table;
  }
  std::string expected;
  for (std::size_t i = 0; i < layouts.size(); ++i) {
    expected += i == 0 ? "" : (i + 1 == layouts.size() ? " or " : ", ");
    expected += detail::thousands(element_count(layouts[i].tensors) * 4) + " (" + layouts[i].description + ")";
  }
  std::string message = "raw float32 weight file is " + detail::thousands(bytes) + " bytes; expected " + expected;
  if (bytes % 4) message += "; the size is not a multiple of 4, so the file is truncated or not raw float32";
  if (!hint.empty()) message += "; " + hint;
  throw Error(path, "size", message);
}

}  // namespace fmviz
