// Conv2d: 2-d convolution as im2col + one Eigen GEMM per tile of output pixels.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "../detail/parallel.hpp"
#include "../error.hpp"
#include "../tensor.hpp"

namespace fmviz {

struct Conv2dOptions {
  std::size_t kernel_h = 3, kernel_w = 3;
  std::size_t stride_h = 1, stride_w = 1;
  std::size_t pad_h = 0, pad_w = 0;
};

template <typename T>
class Conv2d {
 public:
  /// weight: (out_channels, in_channels, kernel_h, kernel_w), OIHW as PyTorch stores it; bias: (out_channels).
  Conv2d(Tensor<T> weight, Tensor<T> bias, std::size_t stride = 1, std::size_t padding = 0)
      : Conv2d(std::move(weight), std::move(bias), stride, stride, padding, padding) {}

  Conv2d(Tensor<T> weight, Tensor<T> bias, std::size_t stride_h, std::size_t stride_w, std::size_t pad_h, std::size_t pad_w)
      : weight_(std::move(weight)), bias_(std::move(bias)) {
    if (weight_.rank() != 4 || weight_.size() == 0)
      throw Error({}, "Conv2d.weight", "expected a non-empty (O,C,KH,KW) tensor, got shape " + shape_to_string(weight_.shape()));
    if (bias_.rank() != 1 || bias_.dim(0) != weight_.dim(0))
      throw Error({}, "Conv2d.bias", "expected shape (" + std::to_string(weight_.dim(0)) + "), got " + shape_to_string(bias_.shape()));
    if (stride_h == 0 || stride_w == 0) throw Error({}, "Conv2d.stride", "must be at least 1");
    opt_.kernel_h = weight_.dim(2);
    opt_.kernel_w = weight_.dim(3);
    opt_.stride_h = stride_h;
    opt_.stride_w = stride_w;
    opt_.pad_h = pad_h;
    opt_.pad_w = pad_w;
  }

  std::size_t in_channels() const noexcept { return weight_.shape()[1]; }
  std::size_t out_channels() const noexcept { return weight_.shape()[0]; }
  const Conv2dOptions& options() const noexcept { return opt_; }
  const Tensor<T>& weight() const noexcept { return weight_; }
  const Tensor<T>& bias() const noexcept { return bias_; }

  Shape output_shape(const Shape& in) const {
    if (in.size() != 4 || in[1] != in_channels())
      throw Error({}, "Conv2d.input", "expected (N," + std::to_string(in_channels()) + ",H,W), got " + shape_to_string(in));
    const std::size_t hp = in[2] + 2 * opt_.pad_h, wp = in[3] + 2 * opt_.pad_w;
    if (hp < opt_.kernel_h || wp < opt_.kernel_w)
      throw Error({}, "Conv2d.input", "input " + shape_to_string(in) + " is smaller than the " + std::to_string(opt_.kernel_h) +
                                          "x" + std::to_string(opt_.kernel_w) + " kernel");
    return {in[0], out_channels(), (hp - opt_.kernel_h) / opt_.stride_h + 1, (wp - opt_.kernel_w) / opt_.stride_w + 1};
  }

  Tensor<T> forward(const Tensor<T>& x) const {
    const Shape out_shape = output_shape(x.shape());
    Tensor<T> y(out_shape);
    const std::size_t pixels = out_shape[2] * out_shape[3];
    const std::size_t k = in_channels() * opt_.kernel_h * opt_.kernel_w;
    // Tiles bound the im2col buffer (a whole conv1_2 im2col is 115 MB) and give each thread its own GEMM.
    const std::size_t budget_cols = std::max<std::size_t>(256, (std::size_t(8) << 20) / (k * sizeof(T)));
    std::size_t tiles = (pixels + budget_cols - 1) / budget_cols;
    const std::size_t threads = static_cast<std::size_t>(thread_count());
    if (tiles < threads && pixels >= threads * 256) tiles = threads;
    const std::size_t tile_cols = (pixels + tiles - 1) / tiles;
    tiles = (pixels + tile_cols - 1) / tile_cols;

    using Matrix = typename Tensor<T>::RowMajorMatrix;
    using Stride = Eigen::OuterStride<>;
    const auto w = weight_.matrix(out_channels(), k);
    const Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>> b(bias_.data(), static_cast<Eigen::Index>(out_channels()));

    for (std::size_t n = 0; n < out_shape[0]; ++n) {
      detail::parallel_for(tiles, [&](std::size_t t) {
        const std::size_t p0 = t * tile_cols, p1 = std::min(pixels, p0 + tile_cols);
        Matrix cols(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(p1 - p0));
        im2col(x, n, out_shape, p0, p1, cols.data());
        Eigen::Map<Matrix, 0, Stride> out(y.channel(n, 0) + p0, static_cast<Eigen::Index>(out_channels()),
                                          static_cast<Eigen::Index>(p1 - p0), Stride(static_cast<Eigen::Index>(pixels)));
        out.noalias() = w * cols;
        out.colwise() += b;
      }, tiles > 1);
    }
    return y;
  }

 private:
  // Writes the (C*KH*KW) x (p1-p0) patch matrix of output pixels [p0, p1) of image n, row-major.
  void im2col(const Tensor<T>& x, std::size_t n, const Shape& out_shape, std::size_t p0, std::size_t p1, T* dst) const {
    const std::size_t ih = x.shape()[2], iw = x.shape()[3], ow = out_shape[3];
    const std::size_t ncols = p1 - p0;
    for (std::size_t c = 0; c < in_channels(); ++c) {
      const T* plane = x.channel(n, c);
      for (std::size_t ky = 0; ky < opt_.kernel_h; ++ky) {
        for (std::size_t kx = 0; kx < opt_.kernel_w; ++kx, dst += ncols) {
          std::size_t oy = p0 / ow, ox = p0 % ow;
          for (std::size_t j = 0; j < ncols; ++j) {
            // Unsigned wrap-around makes "before the padding" compare as out of range too.
            const std::size_t iy = oy * opt_.stride_h + ky - opt_.pad_h;
            const std::size_t ix = ox * opt_.stride_w + kx - opt_.pad_w;
            dst[j] = (iy < ih && ix < iw) ? plane[iy * iw + ix] : T(0);
            if (++ox == ow) { ox = 0; ++oy; }
          }
        }
      }
    }
  }

  Tensor<T> weight_;
  Tensor<T> bias_;
  Conv2dOptions opt_;
};

}  // namespace fmviz
