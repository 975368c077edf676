// Conv2d: 2-d convolution. 3x3 stride-1 layers run Winograd F(6x6,3x3) or F(4x4,3x3); everything else im2col + GEMM.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "../error.hpp"
#include "../kernels/col2im_gemm.hpp"
#include "../kernels/im2col_gemm.hpp"
#include "../kernels/winograd.hpp"
#include "../tensor.hpp"

namespace fmviz {

/// How a Conv2d computes. `gemm` is the reference path (im2col + one GEMM, any kernel, stride and padding);
/// `winograd` uses Winograd's minimal filtering for every 3x3 stride-1 layer (others still use GEMM);
/// `automatic` uses Winograd where it is faster: 3x3 stride-1 layers with enough channels.
enum class ConvAlgorithm { automatic, gemm, winograd };

inline const char* to_string(ConvAlgorithm a) noexcept {
  switch (a) {
    case ConvAlgorithm::automatic: return "auto";
    case ConvAlgorithm::gemm: return "gemm";
    case ConvAlgorithm::winograd: return "winograd";
  }
  return "?";
}

/// When a Winograd layer transforms its weights: once, when it is built (fastest for repeated forwards; the
/// transformed weights take 4x the memory of the weights for F(4,3)), or at each forward into scratch memory
/// that is reused (least memory, and no slower for one forward per load, as the command-line tool runs).
enum class WinogradWeights { at_build, per_forward };

/// "auto", "gemm" or "winograd"; throws fmviz::Error naming the accepted values.
inline ConvAlgorithm parse_conv_algorithm(const std::string& name) {
  if (name == "auto") return ConvAlgorithm::automatic;
  if (name == "gemm") return ConvAlgorithm::gemm;
  if (name == "winograd") return ConvAlgorithm::winograd;
  throw Error({}, "conv algorithm", "expected auto, gemm or winograd, got '" + name + "'");
}

using Conv2dOptions = detail::ConvGeometry;

template <typename T>
class Conv2d {
 public:
  /// Below this many input or output channels, `automatic` keeps GEMM: the transforms would cost more than
  /// they save (conv1_1, with 3 input channels, is such a layer). See bench/README.md.
  static constexpr std::size_t winograd_min_channels = 16;

  /// weight: (out_channels, in_channels, kernel_h, kernel_w), OIHW as PyTorch stores it; bias: (out_channels).
  Conv2d(Tensor<T> weight, Tensor<T> bias, std::size_t stride = 1, std::size_t padding = 0,
         ConvAlgorithm algorithm = ConvAlgorithm::automatic)
      : Conv2d(std::move(weight), std::move(bias), stride, stride, padding, padding, algorithm) {}

  /// winograd_tile: the output tile side of Winograd F(m x m, 3 x 3), 2, 4 or 6 (0: chosen by the channel counts).
  Conv2d(Tensor<T> weight, Tensor<T> bias, std::size_t stride_h, std::size_t stride_w, std::size_t pad_h, std::size_t pad_w,
         ConvAlgorithm algorithm = ConvAlgorithm::automatic, std::size_t winograd_tile = 0,
         WinogradWeights when = WinogradWeights::at_build)
      : weight_(std::move(weight)), bias_(std::move(bias)) {
    if (weight_.rank() != 4 || weight_.size() == 0)
      throw Error({}, "Conv2d.weight", "expected a non-empty (O,C,KH,KW) tensor, got shape " + shape_to_string(weight_.shape()));
    if (bias_.rank() != 1 || bias_.dim(0) != weight_.dim(0))
      throw Error({}, "Conv2d.bias", "expected shape (" + std::to_string(weight_.dim(0)) + "), got " + shape_to_string(bias_.shape()));
    if (stride_h == 0 || stride_w == 0) throw Error({}, "Conv2d.stride", "must be at least 1");
    if (winograd_tile != 0 && winograd_tile != 2 && winograd_tile != 4 && winograd_tile != 6)
      throw Error({}, "Conv2d.winograd_tile", "must be 2, 4 or 6 (or 0 for the default), got " + std::to_string(winograd_tile));
    opt_.kernel_h = weight_.dim(2);
    opt_.kernel_w = weight_.dim(3);
    opt_.stride_h = stride_h;
    opt_.stride_w = stride_w;
    opt_.pad_h = pad_h;
    opt_.pad_w = pad_w;
    const bool fits = opt_.kernel_h == 3 && opt_.kernel_w == 3 && stride_h == 1 && stride_w == 1;
    const bool wide = in_channels() >= winograd_min_channels && out_channels() >= winograd_min_channels;
    if (fits && (algorithm == ConvAlgorithm::winograd || (algorithm == ConvAlgorithm::automatic && wide)))
      winograd_ = std::make_shared<const detail::WinogradConv3x3<T>>(weight_, winograd_tile ? winograd_tile : default_tile(),
                                                                     when == WinogradWeights::at_build);
  }

  /// F(6x6,3x3) for layers of up to 128 channels (the large maps of VGG's first blocks: fewer products per pixel
  /// pay for its larger transforms), F(4x4,3x3) above (its smaller transformed weights win on small maps). Measured
  /// per layer in bench/README.md.
  std::size_t default_tile() const noexcept { return in_channels() <= 128 && out_channels() <= 128 ? 6 : 4; }

  std::size_t in_channels() const noexcept { return weight_.shape()[1]; }
  std::size_t out_channels() const noexcept { return weight_.shape()[0]; }
  const Conv2dOptions& options() const noexcept { return opt_; }
  const Tensor<T>& weight() const noexcept { return weight_; }
  const Tensor<T>& bias() const noexcept { return bias_; }

  /// The algorithm this layer runs: ConvAlgorithm::gemm or ConvAlgorithm::winograd.
  ConvAlgorithm algorithm() const noexcept { return winograd_ ? ConvAlgorithm::winograd : ConvAlgorithm::gemm; }
  /// The Winograd output tile side (2, 4 or 6), 0 on the GEMM path.
  std::size_t winograd_tile() const noexcept { return winograd_ ? winograd_->tile() : 0; }
  /// "im2col+gemm" or "winograd F(4x4,3x3)": for reports and benchmarks.
  std::string algorithm_name() const {
    if (!winograd_) return "im2col+gemm";
    const std::string m = std::to_string(winograd_->tile());
    return "winograd F(" + m + "x" + m + ",3x3)";
  }

  Shape output_shape(const Shape& in) const {
    if (in.size() != 4 || in[1] != in_channels())
      throw Error({}, "Conv2d.input", "expected (N," + std::to_string(in_channels()) + ",H,W), got " + shape_to_string(in));
    const std::size_t hp = in[2] + 2 * opt_.pad_h, wp = in[3] + 2 * opt_.pad_w;
    if (hp < opt_.kernel_h || wp < opt_.kernel_w)
      throw Error({}, "Conv2d.input", "input " + shape_to_string(in) + " is smaller than the " + std::to_string(opt_.kernel_h) +
                                          "x" + std::to_string(opt_.kernel_w) + " kernel");
    return {in[0], out_channels(), (hp - opt_.kernel_h) / opt_.stride_h + 1, (wp - opt_.kernel_w) / opt_.stride_w + 1};
  }

  Tensor<T> forward(const Tensor<T>& x) const { return run(x, false); }

  /// This layer and a ReLU after it in one pass over the output: the same values as ReLU{}.forward(forward(x)),
  /// without a second trip through memory (Network::forward takes it when nobody looks at the pre-ReLU output).
  Tensor<T> forward_relu(const Tensor<T>& x) const { return run(x, true); }

  /// The input's gradient from the output's (`output` is not needed). fmviz explains trained networks and does
  /// not train them, so the weights' gradient is not computed. With stride 1 the input's gradient is a
  /// convolution of the output's gradient with the filters turned by 180 degrees and their channels swapped:
  /// it runs on the forward's own kernels (Winograd for 3x3 layers), on a layer built at the first backward
  /// and kept (shared by copies of this layer, safe to call from several threads). Other strides: GEMM + col2im.
  Tensor<T> backward(const Tensor<T>& input, const Tensor<T>& /*output*/, const Tensor<T>& grad) const {
    const Shape out_shape = output_shape(input.shape());
    if (grad.shape() != out_shape)
      throw Error({}, "Conv2d.grad", "expected shape " + shape_to_string(out_shape) + ", got " + shape_to_string(grad.shape()));
    if (opt_.stride_h == 1 && opt_.stride_w == 1 && opt_.pad_h < opt_.kernel_h && opt_.pad_w < opt_.kernel_w) {
      Tensor<T> gi = transposed().forward(grad);
      if (gi.shape() == input.shape()) return gi;
    }
    return detail::col2im_gemm_backward(weight_, opt_, grad, input.shape());
  }

 private:
  /// The layer whose forward is this layer's backward at stride 1: weight'[c][k] = weight[k][c] turned by 180
  /// degrees, no bias, padding kernel - 1 - padding.
  const Conv2d& transposed() const {
    std::call_once(transposed_->once, [&] {
      const std::size_t k = out_channels(), c = in_channels(), kh = opt_.kernel_h, kw = opt_.kernel_w;
      Tensor<T> flipped({c, k, kh, kw});
      for (std::size_t o = 0; o < k; ++o)
        for (std::size_t i = 0; i < c; ++i)
          for (std::size_t y = 0; y < kh; ++y)
            for (std::size_t x = 0; x < kw; ++x)
              flipped[((i * k + o) * kh + (kh - 1 - y)) * kw + (kw - 1 - x)] = weight_[((o * c + i) * kh + y) * kw + x];
      transposed_->conv = std::make_unique<const Conv2d>(std::move(flipped), Tensor<T>::zeros({c}), 1, 1, kh - 1 - opt_.pad_h,
                                                         kw - 1 - opt_.pad_w, winograd_ ? ConvAlgorithm::automatic : ConvAlgorithm::gemm);
    });
    return *transposed_->conv;
  }

  Tensor<T> run(const Tensor<T>& x, bool relu) const {
    Tensor<T> y(output_shape(x.shape()));
    if (winograd_) winograd_->forward(x, weight_, bias_.data(), opt_.pad_h, opt_.pad_w, y, relu);
    else detail::im2col_gemm_forward(weight_, bias_, opt_, x, y, relu);
    return y;
  }


 private:
  Tensor<T> weight_;
  Tensor<T> bias_;
  Conv2dOptions opt_;
  std::shared_ptr<const detail::WinogradConv3x3<T>> winograd_;  // transformed once; shared by copies of the layer
  struct Transposed {
    std::once_flag once;
    std::unique_ptr<const Conv2d> conv;
  };
  std::shared_ptr<Transposed> transposed_ = std::make_shared<Transposed>();  // built at the first backward
};

}  // namespace fmviz
