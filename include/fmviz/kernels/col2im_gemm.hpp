// The input gradient of a general convolution (any kernel, stride and padding): one GEMM per input channel
// (the filters' slice for that channel, transposed, times the output gradient), then col2im: each product
// added back at the input pixels it came from.
#pragma once

#include <Eigen/Core>

#include <cstddef>

#include "../detail/parallel.hpp"
#include "../detail/workspace.hpp"
#include "../tensor.hpp"
#include "im2col_gemm.hpp"

namespace fmviz {
namespace detail {

/// grad_input (in_shape) from grad_output (N, K, OH, OW) for weight (K, C, KH, KW). Threads take input
/// channels: each channel's pixels are written by one thread only, so the sums need no locks and do not depend
/// on the thread count.
template <typename T>
Tensor<T> col2im_gemm_backward(const Tensor<T>& weight, const ConvGeometry& g, const Tensor<T>& grad, const Shape& in_shape) {
  const std::size_t n_images = in_shape[0], channels = in_shape[1], h = in_shape[2], w = in_shape[3];
  const std::size_t k = weight.dim(0), oh = grad.dim(2), ow = grad.dim(3), pixels = oh * ow;
  const std::size_t taps = g.kernel_h * g.kernel_w;
  Tensor<T> gi = Tensor<T>::zeros(in_shape);
  using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const auto wm = weight.matrix(k, channels * taps);
  for (std::size_t n = 0; n < n_images; ++n) {
    const Eigen::Map<const RowMajor> gm(grad.data() + n * k * pixels, static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(pixels));
    parallel_for(channels, [&](std::size_t c) {
      struct ColumnsTag {};
      T* cols = thread_workspace<T, ColumnsTag>(taps * pixels);
      Eigen::Map<RowMajor> colsm(cols, static_cast<Eigen::Index>(taps), static_cast<Eigen::Index>(pixels));
      {
        const EigenOnThisThread no_eigen_threads;
        colsm.noalias() = wm.middleCols(static_cast<Eigen::Index>(c * taps), static_cast<Eigen::Index>(taps)).transpose() * gm;
      }
      T* plane = gi.data() + (n * channels + c) * h * w;
      for (std::size_t i = 0; i < g.kernel_h; ++i)
        for (std::size_t j = 0; j < g.kernel_w; ++j) {
          const T* row = cols + (i * g.kernel_w + j) * pixels;
          for (std::size_t oy = 0; oy < oh; ++oy) {
            const std::size_t iy = oy * g.stride_h + i;  // in the padded input
            if (iy < g.pad_h || iy - g.pad_h >= h) continue;
            for (std::size_t ox = 0; ox < ow; ++ox) {
              const std::size_t ix = ox * g.stride_w + j;
              if (ix < g.pad_w || ix - g.pad_w >= w) continue;
              plane[(iy - g.pad_h) * w + (ix - g.pad_w)] += row[oy * ow + ox];
            }
          }
        }
    }, channels > 1);
  }
  return gi;
}

}  // namespace detail
}  // namespace fmviz
