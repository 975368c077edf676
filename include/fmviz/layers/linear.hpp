// Linear: y = x W^T + b on (N, in) inputs, and Flatten / Dropout that feed it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>

#include <Eigen/Core>

#include "../detail/parallel.hpp"
#include "../error.hpp"
#include "../tensor.hpp"

namespace fmviz {

template <typename T>
class Linear {
 public:
  /// weight: (out_features, in_features) as PyTorch stores it; bias: (out_features).
  Linear(Tensor<T> weight, Tensor<T> bias) : weight_(std::move(weight)), bias_(std::move(bias)) {
    if (weight_.rank() != 2 || weight_.size() == 0)
      throw Error({}, "Linear.weight", "expected a non-empty (out,in) tensor, got shape " + shape_to_string(weight_.shape()));
    if (bias_.rank() != 1 || bias_.dim(0) != weight_.dim(0))
      throw Error({}, "Linear.bias", "expected shape (" + std::to_string(weight_.dim(0)) + "), got " + shape_to_string(bias_.shape()));
  }

  std::size_t in_features() const noexcept { return weight_.shape()[1]; }
  std::size_t out_features() const noexcept { return weight_.shape()[0]; }
  const Tensor<T>& weight() const noexcept { return weight_; }
  const Tensor<T>& bias() const noexcept { return bias_; }

  Shape output_shape(const Shape& in) const {
    if (in.size() != 2 || in[1] != in_features())
      throw Error({}, "Linear.input", "expected (N," + std::to_string(in_features()) + "), got " + shape_to_string(in));
    return {in[0], out_features()};
  }

  /// Threads take bands of output features, each one Eigen product; the bands do not depend on the thread
  /// count, so neither do the results.
  Tensor<T> forward(const Tensor<T>& x) const {
    const Shape out_shape = output_shape(x.shape());
    Tensor<T> y(out_shape);
    const std::size_t n = out_shape[0], in = in_features(), out = out_features();
    constexpr std::size_t band = 256;  // output features per band: 4096 / 256 gives 16 bands to share out
    using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const auto input = x.matrix(n, in);
    detail::parallel_for((out + band - 1) / band, [&](std::size_t b) {
      const std::size_t f0 = b * band, count = std::min(band, out - f0);
      const Eigen::Map<const RowMajor> w(weight_.data() + f0 * in, static_cast<Eigen::Index>(count), static_cast<Eigen::Index>(in));
      Eigen::Map<RowMajor, 0, Eigen::OuterStride<>> result(y.data() + f0, static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(count),
                                                           Eigen::OuterStride<>(static_cast<Eigen::Index>(out)));
      const detail::EigenOnThisThread no_eigen_threads;  // one band, or one thread: outside any parallel region
      result.noalias() = input * w.transpose();
      result.rowwise() += bias_.vector().segment(static_cast<Eigen::Index>(f0), static_cast<Eigen::Index>(count)).transpose();
    });
    return y;
  }

  /// The input's gradient from the output's: grad W, (N, out) x (out, in), threads taking bands of input features.
  Tensor<T> backward(const Tensor<T>& input, const Tensor<T>& /*output*/, const Tensor<T>& grad) const {
    const Shape out_shape = output_shape(input.shape());
    if (grad.shape() != out_shape)
      throw Error({}, "Linear.grad", "expected shape " + shape_to_string(out_shape) + ", got " + shape_to_string(grad.shape()));
    const std::size_t n = out_shape[0], in = in_features(), out = out_features();
    Tensor<T> gi(input.shape());
    constexpr std::size_t band = 256;
    using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const auto g = grad.matrix(n, out);
    const auto w = weight_.matrix(out, in);
    detail::parallel_for((in + band - 1) / band, [&](std::size_t b) {
      const std::size_t f0 = b * band, count = std::min(band, in - f0);
      Eigen::Map<RowMajor, 0, Eigen::OuterStride<>> result(gi.data() + f0, static_cast<Eigen::Index>(n), static_cast<Eigen::Index>(count),
                                                           Eigen::OuterStride<>(static_cast<Eigen::Index>(in)));
      const detail::EigenOnThisThread no_eigen_threads;
      result.noalias() = g * w.middleCols(static_cast<Eigen::Index>(f0), static_cast<Eigen::Index>(count));
    });
    return gi;
  }

 private:
  Tensor<T> weight_;
  Tensor<T> bias_;
};

/// (N, C, H, W) -> (N, C*H*W), the order torch.flatten(x, 1) uses.
struct Flatten {
  Shape output_shape(const Shape& in) const {
    if (in.empty()) throw Error({}, "Flatten.input", "expected at least one dimension");
    return {in[0], in[0] ? shape_size(in) / in[0] : 0};
  }
  template <typename T>
  Tensor<T> forward(Tensor<T> x) const {
    Shape s = output_shape(x.shape());
    return std::move(x).reshaped(std::move(s));
  }
  /// The output's gradient in the input's shape.
  template <typename T>
  Tensor<T> backward(const Tensor<T>& input, const Tensor<T>& /*output*/, Tensor<T> grad) const {
    if (grad.shape() != output_shape(input.shape()))
      throw Error({}, "Flatten.grad", "expected shape " + shape_to_string(output_shape(input.shape())) + ", got " + shape_to_string(grad.shape()));
    return std::move(grad).reshaped(input.shape());
  }
};

/// Dropout is the identity at inference; it is kept so layer names and indices match torchvision's.
struct Dropout {
  Shape output_shape(const Shape& in) const { return in; }
  template <typename T>
  Tensor<T> forward(Tensor<T> x) const { return x; }
  /// The identity at inference: the gradient passes unchanged.
  template <typename T>
  Tensor<T> backward(const Tensor<T>& input, const Tensor<T>& /*output*/, Tensor<T> grad) const {
    if (grad.shape() != input.shape())
      throw Error({}, "Dropout.grad", "expected shape " + shape_to_string(input.shape()) + ", got " + shape_to_string(grad.shape()));
    return grad;
  }
};

}  // namespace fmviz
