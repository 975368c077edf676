// ReLU: max(x, 0), in place on the tensor it is given.
#pragma once

#include <algorithm>
#include <cstddef>
#include <utility>

#include "../detail/parallel.hpp"
#include "../tensor.hpp"

namespace fmviz {

struct ReLU {
  Shape output_shape(const Shape& in) const { return in; }

  template <typename T>
  Tensor<T> forward(Tensor<T> x) const {
    // In chunks spread over threads: on two threads a single pass over conv1's output would cost as much as a
    // small conv layer.
    constexpr std::size_t chunk = std::size_t(1) << 16;
    const std::size_t n = x.size(), chunks = (n + chunk - 1) / chunk;
    T* data = x.data();
    detail::parallel_for(chunks, [&](std::size_t i) {
      const std::size_t begin = i * chunk, end = std::min(n, begin + chunk);
      for (std::size_t j = begin; j < end; ++j) data[j] = std::max(data[j], T(0));
    }, chunks > 1);
    return x;
  }
};

}  // namespace fmviz
