// TensorSpec: a tensor a weight file is expected to hold, by name and shape (what a raw file's layout lists).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "../tensor.hpp"

namespace fmviz {

/// A tensor a weight file should hold: its name (torchvision's, for VGG) and shape.
struct TensorSpec {
  std::string name;
  Shape shape;
};

/// The number of elements of all the tensors together.
inline std::size_t element_count(const std::vector<TensorSpec>& specs) {
  std::size_t n = 0;
  for (const auto& s : specs) n += shape_size(s.shape);
  return n;
}

}  // namespace fmviz
