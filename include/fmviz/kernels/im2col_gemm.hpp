// The general convolution: im2col + one Eigen GEMM per tile of output pixels (any kernel, stride and padding).
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cstddef>

#include "../detail/parallel.hpp"
#include "../detail/workspace.hpp"
#include "../tensor.hpp"

namespace fmviz {
namespace detail {

struct ConvGeometry {
  std::size_t kernel_h = 3, kernel_w = 3;
  std::size_t stride_h = 1, stride_w = 1;
  std::size_t pad_h = 0, pad_w = 0;
};

/// Output pixels per im2col tile: the patch matrix stays near 8 MB, and there are tiles enough to share between
/// threads (up to 8, of at least 256 pixels). The tiling never depends on the thread count, so neither do the
/// results (Eigen's GEMM rounds a tile's last columns differently from the others).
inline std::size_t im2col_tile_columns(std::size_t pixels, std::size_t patch_rows, std::size_t elem_size) {
  const std::size_t budget_cols = std::max<std::size_t>(256, (std::size_t(8) << 20) / (patch_rows * elem_size));
  const std::size_t tiles = std::max((pixels + budget_cols - 1) / budget_cols, std::min<std::size_t>(8, pixels / 256));
  return (pixels + std::max<std::size_t>(tiles, 1) - 1) / std::max<std::size_t>(tiles, 1);
}

/// Writes the (C*KH*KW) x (p1-p0) patch matrix of output pixels [p0, p1) of image n, row-major.
template <typename T>
void im2col(const Tensor<T>& x, std::size_t n, const ConvGeometry& g, std::size_t out_w, std::size_t p0, std::size_t p1, T* dst) {
  const std::size_t channels = x.dim(1), ih = x.dim(2), iw = x.dim(3);
  const std::size_t ncols = p1 - p0;
  for (std::size_t c = 0; c < channels; ++c) {
    const T* plane = x.channel(n, c);
    for (std::size_t ky = 0; ky < g.kernel_h; ++ky) {
      for (std::size_t kx = 0; kx < g.kernel_w; ++kx, dst += ncols) {
        // Output row by output row: with stride 1 a row's inputs lie side by side, copied at once between the
        // zeros of the padding.
        std::size_t oy = p0 / out_w, ox = p0 % out_w;
        for (std::size_t j = 0; j < ncols; ox = 0, ++oy) {
          const std::size_t run = std::min(out_w - ox, ncols - j);
          T* d = dst + j;
          j += run;
          // Unsigned wrap-around makes "before the padding" compare as out of range too.
          const std::size_t iy = oy * g.stride_h + ky - g.pad_h;
          if (iy >= ih) {
            std::fill(d, d + run, T(0));
            continue;
          }
          const T* row = plane + iy * iw;
          if (g.stride_w == 1) {
            const auto first = static_cast<std::ptrdiff_t>(ox + kx) - static_cast<std::ptrdiff_t>(g.pad_w);  // input column of d[0]
            const auto n = static_cast<std::ptrdiff_t>(run);
            const std::ptrdiff_t lo = std::clamp<std::ptrdiff_t>(-first, 0, n);
            const std::ptrdiff_t hi = std::clamp<std::ptrdiff_t>(static_cast<std::ptrdiff_t>(iw) - first, lo, n);
            std::fill(d, d + lo, T(0));
            if (hi > lo) std::copy(row + first + lo, row + first + hi, d + lo);
            std::fill(d + hi, d + n, T(0));
            continue;
          }
          for (std::size_t i = 0; i < run; ++i) {
            const std::size_t ix = (ox + i) * g.stride_w + kx - g.pad_w;
            d[i] = ix < iw ? row[ix] : T(0);
          }
        }
      }
    }
  }
}

/// y = conv(x, weight) + bias with weight (K, C, KH, KW), then max(y, 0) with `relu`; y (N, K, OH, OW) is
/// allocated by the caller.
template <typename T>
void im2col_gemm_forward(const Tensor<T>& weight, const Tensor<T>& bias, const ConvGeometry& g, const Tensor<T>& x, Tensor<T>& y,
                         bool relu = false) {
  const std::size_t out_channels = weight.dim(0);
  const std::size_t pixels = y.dim(2) * y.dim(3);
  const std::size_t k = weight.size() / out_channels;
  const std::size_t tile_cols = im2col_tile_columns(pixels, k, sizeof(T));
  const std::size_t tiles = (pixels + tile_cols - 1) / tile_cols;
  using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Stride = Eigen::OuterStride<>;
  const auto w = weight.matrix(out_channels, k);
  const Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>> b(bias.data(), static_cast<Eigen::Index>(out_channels));
  for (std::size_t n = 0; n < y.dim(0); ++n) {
    parallel_for(tiles, [&](std::size_t t) {
      const std::size_t p0 = t * tile_cols, p1 = std::min(pixels, p0 + tile_cols);
      T* cols = thread_workspace<T>(k * tile_cols);  // each worker thread's own patch buffer, kept between calls
      im2col(x, n, g, y.dim(3), p0, p1, cols);
      const Eigen::Map<const Matrix> patches(cols, static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(p1 - p0));
      Eigen::Map<Matrix, 0, Stride> out(y.channel(n, 0) + p0, static_cast<Eigen::Index>(out_channels),
                                        static_cast<Eigen::Index>(p1 - p0), Stride(static_cast<Eigen::Index>(pixels)));
      const EigenOnThisThread no_eigen_threads;  // a loop of one tile runs outside any parallel region
      out.noalias() = w * patches;
      out.colwise() += b;
      if (relu)  // the ReLU layer's own expression, so the values are the same as with the layer after
        out = out.unaryExpr([](T v) { return std::max(v, T(0)); });
    }, tiles > 1);
  }
}

}  // namespace detail
}  // namespace fmviz
