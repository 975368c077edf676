// ReLU: max(x, 0), in place on the tensor it is given.
#pragma once

#include <algorithm>
#include <cstddef>
#include <utility>

#include "../detail/parallel.hpp"
#include "../error.hpp"
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

  /// The input's gradient from the output's: passed where the output is positive, zero elsewhere (PyTorch's
  /// threshold_backward). `input` is not needed: the output says where the ReLU let values through.
  template <typename T>
  Tensor<T> backward(const Tensor<T>& /*input*/, const Tensor<T>& output, Tensor<T> grad) const {
    if (grad.shape() != output.shape())
      throw Error({}, "ReLU.grad", "expected shape " + shape_to_string(output.shape()) + ", got " + shape_to_string(grad.shape()));
    constexpr std::size_t chunk = std::size_t(1) << 16;
    const std::size_t n = grad.size(), chunks = (n + chunk - 1) / chunk;
    T* g = grad.data();
    const T* y = output.data();
    detail::parallel_for(chunks, [&](std::size_t i) {
      const std::size_t begin = i * chunk, end = std::min(n, begin + chunk);
      for (std::size_t j = begin; j < end; ++j) g[j] = y[j] > T(0) ? g[j] : T(0);
    }, chunks > 1);
    return grad;
  }
};

}  // namespace fmviz
