// ReLU: max(x, 0), in place on the tensor it is given.
#pragma once

#include <utility>

#include "../tensor.hpp"

namespace fmviz {

struct ReLU {
  Shape output_shape(const Shape& in) const { return in; }

  template <typename T>
  Tensor<T> forward(Tensor<T> x) const {
    x.vector() = x.vector().cwiseMax(T(0));
    return x;
  }
};

}  // namespace fmviz
